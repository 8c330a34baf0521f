"""bach2.nn.convolution: the voice model's layers, checked against plain NumPy."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from bach2.nn import convolution as C
from bach2.nn import layers as L

B, V, T, F = 2, 3, 7, 4     # batch, voices, steps, channels


def output_of(layer, inputs, values):
    """Compile ``layer``'s output for {InputLayer: variable} ``inputs`` and evaluate it on ``values``."""
    expression = L.get_output(layer, inputs)
    return pytensor.function(list(inputs.values()), expression, mode='FAST_COMPILE')(*values)   # no C to build


def test_time_convolution_is_a_centred_dilated_filter_with_zero_padding():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, V, T, F)).astype(np.float32)
    source = L.InputLayer((B, V, T, F))
    layer = C.TimeConvLayer(source, 5, filter_size=3, filter_dilation=2, b=C.Constant(0.5))
    got = output_of(layer, {source: source.input_var}, [x])
    W = layer.W.get_value().reshape(3, F, 5)
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (0, 0)))
    expected = sum(padded[:, :, 2 * k:2 * k + T] @ W[k] for k in range(3)) + 0.5
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_time_convolution_takes_any_length_with_the_same_parameters():
    source = L.InputLayer((1, 1, 4, F))
    layer = C.TimeConvLayer(source, 2, filter_dilation=3)
    longer = pt.tensor('x', dtype='float32', shape=(1, 2, 9, F))
    got = output_of(layer, {source: longer}, [np.ones((1, 2, 9, F), np.float32)])
    assert got.shape == (1, 2, 9, 2)
    with pytest.raises(ValueError, match='odd'):
        C.TimeConvLayer(source, 2, filter_size=2)


def test_voice_mean_puts_each_voice_beside_the_mean_of_all():
    x = np.random.default_rng(1).normal(size=(B, V, T, F)).astype(np.float32)
    source = L.InputLayer((B, V, T, F))
    got = output_of(C.VoiceMeanLayer(source), {source: source.input_var}, [x])
    np.testing.assert_allclose(got[..., :F], x)
    np.testing.assert_allclose(got[..., F:], np.broadcast_to(x.mean(axis=1, keepdims=True), x.shape), rtol=1e-6)
    layer = C.VoiceMeanLayer(source, neighbours=True)
    got = output_of(layer, {source: source.input_var}, [x])
    assert got.shape == layer.output_shape == (B, V, T, 4 * F)
    np.testing.assert_allclose(got[..., :2 * F].reshape(-1), output_of(
        C.VoiceMeanLayer(source), {source: source.input_var}, [x]).reshape(-1), rtol=1e-6)
    above, below = got[..., 2 * F:3 * F], got[..., 3 * F:]
    np.testing.assert_allclose(above[:, 1:], x[:, :-1])      # voices highest first: the one above is v - 1
    np.testing.assert_allclose(below[:, :-1], x[:, 1:])
    assert not above[:, 0].any() and not below[:, -1].any()  # nothing above the top, nothing below the bass


def test_layer_norm_and_embedding_and_sum():
    x = np.random.default_rng(2).normal(3.0, 2.0, size=(B, T, F)).astype(np.float32)
    source = L.InputLayer((B, T, F))
    normed = output_of(C.LayerNormLayer(source), {source: source.input_var}, [x])
    np.testing.assert_allclose(normed.mean(axis=-1), 0, atol=1e-5)
    np.testing.assert_allclose(normed.std(axis=-1), 1, atol=1e-3)
    index = L.InputLayer((B, T), input_var=pt.tensor('i', dtype='int32', shape=(B, T)))
    embed = C.EmbeddingLayer(index, 10, F)
    total = C.ElemwiseSumLayer([embed, source])
    i = np.arange(B * T, dtype=np.int32).reshape(B, T) % 10
    got = output_of(total, {index: index.input_var, source: source.input_var}, [i, x])
    np.testing.assert_allclose(got, embed.W.get_value()[i] + x, rtol=1e-6)
    assert total.output_shape == (B, T, F)
    with pytest.raises(TypeError, match='Layer'):
        C.ElemwiseSumLayer([source, 'not a layer'])
