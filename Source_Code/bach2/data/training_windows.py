"""Stage 3 data: X windows of SEQUENCE_LENGTH steps and Y the next step, never across two pieces.

The pieces of a training set are concatenated once into ``data`` (``N × P``
uint8, N = Σ T_i). Window ``s`` is ``data[s : s + L]`` and its target is
``data[s + L]``; only starts whose window and target lie inside one piece are
kept. :func:`make_X_Y` returns NumPy *views* (``sliding_window_view``): no
``N × L × P`` copy is made; :func:`make_batch` copies just one batch, as float32.

The journal's failure mode this avoids: windows that straddle the end of one
piece and the start of the next.

Every-step training (``targets='all'``) and full-context evaluation read *streams*
instead (:func:`stream_layout`, :func:`stream_chunks`): whole pieces, each after
one silent step, laid end to end in B parallel streams and cut into chunks of L
steps; the LSTM state is carried from chunk to chunk and reset where a piece begins,
so every frame of every piece is a target exactly once, predicted from its piece's whole past.
"""
import heapq
import re

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def concatenate_pieces(matrices):
    """[T_i × P] → (``N × P`` array, ``piece_starts`` of length n + 1: piece i is rows [starts[i], starts[i+1]))."""
    starts = np.concatenate([[0], np.cumsum([len(m) for m in matrices])]).astype(np.int64)
    return np.concatenate(matrices) if matrices else np.zeros((0, 0), np.uint8), starts


def window_starts(piece_starts, sequence_length):
    """Row indices s of every window whose L steps and target step s + L lie in one piece (int64)."""
    starts = [np.arange(begin, end - sequence_length, dtype=np.int64)
              for begin, end in zip(piece_starts[:-1], piece_starts[1:])]
    return np.concatenate(starts) if starts else np.zeros(0, np.int64)


def journal_data_size(n_steps, sequence_length):
    """Windows the journal counted in ``n_steps`` of concatenated data: ``n − L`` (every start, across pieces too).

    ``pitch_matrix[:4800]`` with SEQUENCE_LENGTH 16 gave its data_size 4784;
    ``len(window_starts(...))`` is ours, ``L`` fewer per piece boundary.
    """
    return max(n_steps - sequence_length, 0)


def make_X_Y(data, piece_starts, sequence_length):
    """→ (X, Y, starts): ``X[s]`` is the ``L × P`` window from row s, ``Y[s]`` the row after it (views).

    Only ``X[starts]`` / ``Y[starts]`` are valid training examples.
    """
    if len(data) <= sequence_length:
        raise ValueError(f'{len(data)} steps of data are not more than SEQUENCE_LENGTH = {sequence_length}')
    # sliding_window_view gives (N - L + 1) × P × L; swap to windows × time × pitch, still a view.
    X = sliding_window_view(data[:-1], sequence_length, axis=0).transpose(0, 2, 1)
    Y = data[sequence_length:]
    return X, Y, window_starts(piece_starts, sequence_length)


def make_batch(X, Y, batch_starts):
    """Copy one batch: (``B × L × P`` float32 inputs, ``B × P`` float32 targets)."""
    return X[batch_starts].astype(np.float32), Y[batch_starts].astype(np.float32)


def iterate_batches(starts, batch_size, seed, epoch):
    """Shuffled batches of window starts for one epoch → [(starts ``B``, weights ``B`` float32)].

    The order depends only on (seed, epoch). Every window is used once; the last
    batch is filled up to ``batch_size`` with windows from the start of the
    shuffled order carrying weight 0, so shapes stay static and no data is dropped.
    """
    order = np.random.default_rng([seed, epoch]).permutation(starts)
    n_batches = -(-len(order) // batch_size)
    batches = []
    for b in range(n_batches):
        chunk = order[b * batch_size:(b + 1) * batch_size]
        weights = np.ones(batch_size, np.float32)
        if len(chunk) < batch_size:
            weights[len(chunk):] = 0.0
            chunk = np.concatenate([chunk, np.resize(order, batch_size - len(chunk))])
        batches.append((chunk, weights))
    return batches


def stream_layout(piece_starts, n_streams, order_seed=None):
    """Pieces end to end in ``n_streams`` streams → (rows ``n_streams × S`` int64, reset ``n_streams × S`` float32).

    The set's pieces begin with one silent step: piece [a, b) gives the examples
    input row r → target row r + 1 for r = a … b − 2, its first with reset 1 (the
    state starts afresh). Pieces go longest first to the stream with the fewest
    examples so far, so the streams end within about one short piece of each other —
    streams of unequal length would end every epoch with a few of them alone, tuning
    the model to their last pieces (on the keyboard corpus the last 39 of 1 373 chunks
    held one stream). Then each stream's pieces are shuffled (``order_seed``, e.g.
    [seed, epoch], which also breaks ties in length); None keeps them longest first.
    Positions past a stream's end hold row −1 (weight 0) and reset 1.
    """
    bounds = list(zip(piece_starts[:-1], piece_starts[1:]))
    rng = None if order_seed is None else np.random.default_rng(order_seed)
    tie = np.arange(len(bounds)) if rng is None else rng.permutation(len(bounds))
    order = sorted(range(len(bounds)), key=lambda i: (bounds[i][0] - bounds[i][1], tie[i]))
    streams = [[] for _ in range(n_streams)]
    fill = [(0, k) for k in range(n_streams)]          # (examples so far, stream): a heap
    for i in order:
        begin, end = bounds[i]
        if end - begin < 2:
            continue                                   # a silent step and nothing to predict
        size, k = heapq.heappop(fill)
        streams[k].append(np.arange(begin, end - 1, dtype=np.int64))
        heapq.heappush(fill, (size + end - begin - 1, k))
    if rng is not None:
        streams = [[pieces[j] for j in rng.permutation(len(pieces))] for pieces in streams]
    width = max(size for size, _ in fill)
    rows = np.full((n_streams, width), -1, np.int64)
    reset = np.ones((n_streams, width), np.float32)
    for k, pieces in enumerate(streams):
        at = 0
        for piece in pieces:
            rows[k, at:at + len(piece)] = piece
            reset[k, at + 1:at + len(piece)] = 0.0
            at += len(piece)
    return rows, reset


def stream_chunks(rows, reset, length):
    """Cut streams into chunks of ``length`` steps → [(rows ``B × length``, reset ``B × length``)], the
    last padded with rows −1."""
    width = -(-rows.shape[1] // length) * length
    pad = width - rows.shape[1]
    rows = np.pad(rows, ((0, 0), (0, pad)), constant_values=-1)
    reset = np.pad(reset, ((0, 0), (0, pad)), constant_values=1.0)
    return [(rows[:, c:c + length], reset[:, c:c + length]) for c in range(0, width, length)]


BWV_PATTERN = re.compile(r'bwv\s*_?(\d+)', re.IGNORECASE)


def bwv_number(name):
    """'bwv846_fugue_wtc1_01' → 846, 'bwv1.6' → 1; None when the name has no BWV number."""
    match = BWV_PATTERN.search(name)
    return int(match.group(1)) if match else None


#: the word after the BWV number in the built-in corpora's names → the kind of piece it is
KINDS = {'fugue': 'fugue', 'ricercar': 'fugue', 'prelude': 'prelude', 'fantasia': 'prelude',
         'invention': 'invention', 'sinfonia': 'invention'}


def piece_kind(name):
    """'bwv846_fugue_wtc1_01' → 'fugue'; 'prelude' (preludes, fantasias), 'invention' (inventions and
    sinfonias), else 'other'."""
    word = BWV_PATTERN.sub('', name, count=1).strip('_').split('_')[0].lower()
    return KINDS.get(word, 'other')


def split_by_bwv(names, valid_fraction=0.1, seed=0):
    """Piece indices → (train, valid), split by BWV number so no work is on both sides.

    Pieces without a BWV number form a group of their own name. About
    ``valid_fraction`` of the groups (at least one, if there are two) go to validation.
    """
    groups = sorted({bwv_number(name) if bwv_number(name) is not None else name for name in names}, key=str)
    rng = np.random.default_rng(seed)
    n_valid = max(1, round(valid_fraction * len(groups))) if len(groups) > 1 and valid_fraction > 0 else 0
    valid_groups = {groups[i] for i in rng.permutation(len(groups))[:n_valid]}
    valid = [i for i, name in enumerate(names)
             if (bwv_number(name) if bwv_number(name) is not None else name) in valid_groups]
    valid_set = set(valid)
    train = [i for i in range(len(names)) if i not in valid_set]
    return train, valid
