"""Two baselines a trained model must beat, on the same validation frames (NLL per frame, nats).

* unigram: each pitch sounds with its frequency in the training frames, independently;
* repeat: each pitch repeats the previous step, with the probabilities of
  staying on and of switching on measured on the training frames.

NLL per frame = binary cross-entropy summed over pitches, averaged over frames. :func:`baseline_report` gives
both on the validation frames of a stage-3 Trainer.
"""
import numpy as np

EPSILON = 1e-7


def _nll(probabilities, targets):
    p = np.clip(probabilities, EPSILON, 1 - EPSILON)
    return float(-(targets * np.log(p) + (1 - targets) * np.log(1 - p)).sum(axis=-1).mean())


def unigram_nll(train_targets, valid_targets):
    """``N × P`` training frames, ``M × P`` validation frames → NLL per validation frame."""
    frequency = np.asarray(train_targets, np.float64).mean(axis=0)
    return _nll(frequency[None, :], np.asarray(valid_targets, np.float64))


def repeat_rates(train_frames, piece_starts):
    """(P(on | on before), P(on | off before)) over consecutive steps inside the pieces."""
    frames = np.asarray(train_frames, bool)
    inside = np.ones(len(frames) - 1, bool)
    starts = np.asarray(piece_starts)
    inside[starts[(starts > 0) & (starts < len(frames))] - 1] = False   # pair (s − 1, s) crosses into a piece
    before, after = frames[:-1][inside], frames[1:][inside]
    stay = (before & after).sum() / max(before.sum(), 1)
    start = (~before & after).sum() / max((~before).sum(), 1)
    return float(stay), float(start)


def repeat_nll(rates, previous_frames, valid_targets):
    """NLL per frame of "repeat the previous step" with ``rates`` from :func:`repeat_rates`."""
    stay, start = rates
    previous = np.asarray(previous_frames, np.float64)
    return _nll(previous * stay + (1 - previous) * start, np.asarray(valid_targets, np.float64))


def baseline_report(trainer):
    """{'unigram', 'repeat'}: NLL per frame of the two baselines, fitted on the training frames of a
    :class:`~bach2.train.Trainer`, on every frame of its validation pieces (the first after silence)."""
    valid, train = trainer.valid_set, trainer.train_set
    first = np.zeros(valid.n_steps, bool)
    first[valid.piece_starts[:-1]] = True                       # the silent step before each piece
    targets = valid.targets[~first].astype(np.float32)
    previous = valid.targets[np.flatnonzero(~first) - 1].astype(np.float32)
    return {'unigram': unigram_nll(train.targets, targets),
            'repeat': repeat_nll(repeat_rates(train.targets, train.piece_starts), previous, targets)}
