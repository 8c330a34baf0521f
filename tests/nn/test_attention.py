"""bach2.nn.attention: relative self-attention over voices and time, checked against plain NumPy."""
import numpy as np
import pytensor
import pytest

from bach2.nn import layers as L
from bach2.nn.attention import RelativeAttentionLayer, relative_index

B, V, T, C, H, REACH = 2, 3, 9, 8, 2, 3       # batch, voices, steps, channels, heads, steps each side


def attend(layer, x):
    source = layer.input_layer
    expression = L.get_output(layer, {source: source.input_var})
    return pytensor.function([source.input_var], expression, mode='FAST_COMPILE')(x)   # no C to build


def numpy_attention(x, W, relative):
    """The layer written cell by cell: scores q·k/√D plus the bias of (same voice, steps apart), within reach."""
    D = C // H
    q, k, v = np.split(x @ W, 3, axis=-1)
    out = np.zeros_like(x)
    for b, h, vq, tq in np.ndindex(B, H, V, T):
        heads = slice(h * D, (h + 1) * D)
        scores = np.full((V, T), -np.inf)
        for vk, tk in np.ndindex(V, T):
            if abs(tk - tq) <= REACH:
                scores[vk, tk] = (q[b, vq, tq, heads] @ k[b, vk, tk, heads] / np.sqrt(D)
                                  + relative[h, int(vk == vq), tk - tq + REACH])
        weights = np.exp(scores - scores.max())
        weights /= weights.sum()
        out[b, vq, tq, heads] = np.einsum('vt,vtd->d', weights, v[b, :, :, heads])
    return out


def test_every_cell_attends_to_the_cells_within_reach_by_content_voice_and_steps_apart():
    rng = np.random.default_rng(0)
    layer = RelativeAttentionLayer(L.InputLayer((B, V, T, C)), heads=H, reach=REACH)
    layer.relative.set_value(rng.normal(size=(H, 2, 2 * REACH + 1)).astype(np.float32))
    x = rng.normal(size=(B, V, T, C)).astype(np.float32)
    expected = numpy_attention(x, layer.W_qkv.get_value(), layer.relative.get_value())
    np.testing.assert_allclose(attend(layer, x), expected, rtol=1e-4, atol=1e-5)


def test_a_cell_reads_nothing_beyond_reach_and_the_same_music_elsewhere_reads_the_same():
    rng = np.random.default_rng(1)
    layer = RelativeAttentionLayer(L.InputLayer((1, V, T, C)), heads=H, reach=REACH)
    layer.relative.set_value(rng.normal(size=(H, 2, 2 * REACH + 1)).astype(np.float32))
    x = rng.normal(size=(1, V, T, C)).astype(np.float32)
    far = x.copy()
    far[:, :, 8] += 1                                    # step 8 is 4 steps from step 4: beyond reach
    np.testing.assert_allclose(attend(layer, far)[:, :, 4], attend(layer, x)[:, :, 4], atol=1e-6)
    near = x.copy()
    near[:, 2, 7] += 1                                   # another voice, 3 steps away: heard
    assert not np.allclose(attend(layer, near)[:, 0, 4], attend(layer, x)[:, 0, 4])
    moved = np.roll(x, 1, axis=2)                        # steps 1 … 7 around step 4 are now steps 2 … 8: relative
    np.testing.assert_allclose(attend(layer, moved)[:, :, 5], attend(layer, x)[:, :, 4], rtol=1e-5, atol=1e-6)


def test_relative_index_and_bad_sizes():
    index, near = relative_index(2, 3, 1)
    assert index.shape == near.shape == (6, 6)
    assert index[0, 1] == 3 + 1 + 1 and index[0, 4] == 1 + 1 and index[2, 0] == 3 + 0   # same voice: + 2·reach + 1
    assert near[0, 1] and not near[0, 2] and near[0, 4] and not near[3, 2]
    with pytest.raises(ValueError, match='divide'):
        RelativeAttentionLayer(L.InputLayer((1, 1, 2, 6)), heads=4)
    with pytest.raises(ValueError, match='reach'):
        RelativeAttentionLayer(L.InputLayer((1, 1, 2, 8)), heads=4, reach=0)
