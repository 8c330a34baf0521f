"""Self-attention over the cells of a piece in voices, with relative positions: what lets a cell find and reuse
what the piece played earlier (Shaw et al. 2018; the Music Transformer's relative attention, Huang et al. 2019),
in Lasagne's layer API beside :mod:`bach2.nn.convolution`.

Tensors are laid out **batch × voices × time × channels**, every shape static. Each cell (voice, step) attends to
every cell of every voice within ``reach`` steps of it, before or after; a score is the content's ``q · k / √D``
plus a learned bias per head for the step apart (−reach … reach) and for whether the two cells share a voice.
Cells farther apart are not read, so a layer reads ``reach`` steps each side, as a convolution has a reach.

Written here because no layer library this project can use in PyTensor has relative attention over two axes;
the scores are dense (``(V·T)²`` per head) with the far ones masked, which for a few hundred steps in a few voices
is what a CPU runs fastest.
"""
import numpy as np
import pytensor.tensor as pt

from bach2.nn.layers import Constant, GlorotUniform, Layer

FAR = np.float32(-1e9)          # the score of a cell beyond reach: its weight underflows to 0


def relative_index(voices, steps, reach):
    """(index ``N × N`` int32 into a head's ``2 × (2·reach + 1)`` biases, near ``N × N`` bool) for the
    ``N = voices · steps`` cells, voice-major: which bias each pair of cells takes, and whether it is within reach."""
    voice, step = np.divmod(np.arange(voices * steps), steps)
    apart = step[None, :] - step[:, None]                          # the key's step − the query's
    same = voice[None, :] == voice[:, None]
    index = same * (2 * reach + 1) + np.clip(apart, -reach, reach) + reach
    return index.astype(np.int32), np.abs(apart) <= reach


class RelativeAttentionLayer(Layer):
    """``B × V × T × C`` → ``B × V × T × C``: ``heads`` heads of ``C / heads`` channels each, attending within
    ``reach`` steps (module docstring), their outputs side by side (no output projection: follow it with a
    :class:`~bach2.nn.layers.DenseLayer`).

    Parameters: ``W_qkv`` ``C × 3C`` (queries, keys, values), ``relative`` ``heads × 2 × (2·reach + 1)``
    (other voice, same voice; zero at the start: attention by content alone).
    """

    def __init__(self, incoming, heads=4, reach=64, W=GlorotUniform(), name=None):
        super().__init__(incoming, name)
        channels = incoming.output_shape[-1]
        if heads <= 0 or channels % heads:
            raise ValueError(f'{self._describe()}: heads must divide the {channels} channels, not {heads}')
        if reach <= 0:
            raise ValueError(f'{self._describe()}: reach must be positive, not {reach}')
        self.heads, self.reach = heads, reach
        self.W_qkv = self.add_param(W, (channels, 3 * channels), name='W_qkv')
        self.relative = self.add_param(Constant(0.), (heads, 2, 2 * reach + 1), name='relative', regularizable=False)

    def get_output_for(self, input, **kwargs):
        B, V, T, C = input.type.shape           # static: the tensor fed, whatever the template's
        H, N = self.heads, V * T
        D = C // H
        qkv = pt.dot(input, self.W_qkv).reshape((B, N, 3, H, D)).transpose(2, 0, 3, 1, 4)   # 3 × B × H × N × D
        query, key, value = qkv[0], qkv[1], qkv[2]
        index, near = relative_index(V, T, self.reach)
        bias = self.relative.reshape((H, -1))[:, index]                                      # H × N × N
        scores = pt.matmul(query, key.transpose(0, 1, 3, 2)) * np.float32(1 / np.sqrt(D)) + bias[None]
        scores = pt.where(near, scores, FAR)
        weights = pt.special.softmax(scores, axis=-1)
        out = pt.matmul(weights, value)                                                      # B × H × N × D
        return out.transpose(0, 2, 1, 3).reshape((B, V, T, C))
