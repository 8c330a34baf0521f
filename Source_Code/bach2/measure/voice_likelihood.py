"""Likelihood of music in voices under the voice model, as Coconet's paper reports it: nats per frame.

Coconet (Huang et al. 2017, magenta's ``coconet_evaluate.py``, ``unit=frame``) scores a piece with one random
ordering of its frames (16th-note steps), and inside each frame a random ordering of its voices: the NLL of
the piece is ``−Σ log p(x_v,t | every cell before it in that ordering)``, divided by its frames; a split's
figure pools all frames. Here each conditional is given the *true* earlier cells (magenta's evaluator writes
its own argmax into them instead, a choice its paper does not describe; the chain rule needs the truth).

Frames and voices: a frame is one step of all V voices. The voice model reads tokens (a struck pitch, a hold, a
rest); where the data cannot tell a held note from a repeated one (the JSB Chorales), equal pitches in a row are
holds, so the tokens and the pitches determine each other and their likelihoods are the same number.

Cost: for T frames, V forward passes over T copies of the piece (copy k knows the frames before k in the
ordering): T and the copies are padded to a multiple of :data:`~bach2.models.voice_sampling.LENGTH_QUANTUM`
(padding frames are rests after the piece, given; padding copies are not scored), so few shapes compile.
"""
import numpy as np
from tqdm import tqdm

from bach2.models.voice_model import network_inputs
from bach2.models.voice_sampling import LENGTH_QUANTUM


def ordering_nll(model, tokens, positions, rng):
    """``V × T`` tokens of one piece, ``T`` bar positions → (Σ NLL in nats over its cells, T frames) for one
    random ordering of frames and of voices within each frame."""
    from bach2.data.voice_tokens import REST
    V, T = tokens.shape
    padded = -(-T // LENGTH_QUANTUM) * LENGTH_QUANTUM
    full = np.full((V, padded), REST, np.int32)
    full[:, :T] = tokens
    clock = np.zeros(padded, np.int64)
    clock[:T] = positions
    frames = rng.permutation(T)
    rank = np.empty(T, np.int64)
    rank[frames] = np.arange(T)
    voices = np.stack([rng.permutation(V) for _ in range(T)])     # voices[k]: order of voices in frame frames[k]
    copies = -(-T // LENGTH_QUANTUM) * LENGTH_QUANTUM
    predict = model.predict((copies, V, padded))
    before = np.zeros((copies, V, padded), bool)
    before[:, :, T:] = True                                       # the rests after the piece are known
    before[:T, :, :T] = (rank[None, :] < np.arange(T)[:, None])[:, None, :]   # copy k: frames ranked before k
    total = 0.0
    rows = np.arange(T)
    for j in range(V):
        inputs = network_inputs(np.broadcast_to(full, before.shape), before, np.broadcast_to(clock, (copies, padded)))
        log_p = np.asarray(predict(*inputs))
        v, t = voices[:, j], frames
        total -= float(log_p[rows, v, t, full[v, t]].sum())
        before[rows, v, t] = True                                 # this voice of the frame is now known
    return total, T


def framewise_nll(model, pieces, orderings=1, seed=0, progress=True):
    """Pieces (``(V × T tokens, T positions)``) → {'nll_per_frame': nats, 'frames', 'per_piece': [nats per
    frame]}, each piece's NLL averaged over ``orderings`` random orderings (in probability, as Coconet's
    ensemble does: log-mean-exp per frame is not separable here, so per piece)."""
    rng = np.random.default_rng(seed)
    total = frames = 0.0
    per_piece = []
    for tokens, positions in tqdm(pieces, desc='NLL', unit='piece', disable=not progress):
        runs = [ordering_nll(model, tokens, positions, rng)[0] for _ in range(orderings)]
        nll = -(np.logaddexp.reduce(-np.asarray(runs)) - np.log(orderings))
        total, frames = total + nll, frames + tokens.shape[1]
        per_piece.append(nll / tokens.shape[1])
    return {'nll_per_frame': total / max(frames, 1), 'frames': int(frames), 'per_piece': per_piece}
