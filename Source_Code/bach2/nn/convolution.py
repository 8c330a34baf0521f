"""Layers of a convolutional network over voices and time, with Lasagne's API (``layers.embedding``,
``layers.conv``, ``layers.merge``, ``layers.normalization``): what the voice model stacks.

Tensors are laid out **batch × voices × time × channels** (channels last, as the rest of this library lays out
sequences); every shape is static (the JAX backend needs them).

* :class:`EmbeddingLayer` (Lasagne's): int indices → rows of a table ``W``;
* :class:`TimeConvLayer`: Lasagne's ``Conv1DLayer`` with ``pad='same'`` and ``filter_dilation`` along the time
  axis, written as ``filter_size`` shifted copies of the input side by side and one dot product (PyTensor's
  convolution ops have no JAX implementation for dilated 1-D filters; a dot product is what XLA runs fastest
  on a CPU anyway);
* :class:`VoiceMeanLayer`: each voice's features beside the mean over all voices of the same step (what lets
  a voice hear the others, for any number of voices), and optionally beside the voices just above and below;
* :class:`LayerNormLayer`: normalisation over the channels (Ba et al. 2016), learned gain and bias;
* :class:`ElemwiseSumLayer` (Lasagne's): the sum of its inputs (a residual connection).
"""
import numpy as np
import pytensor.tensor as pt

from bach2.nn.layers import Constant, GlorotUniform, Layer, Normal, identity

EPSILON = np.float32(1e-5)


def average(x, axis):
    """Mean over ``axis`` (kept), summed in float32: PyTensor's ``mean`` sums float32 in float64, which JAX
    without 64-bit mode truncates with a warning on every call."""
    return pt.sum(x, axis=axis, keepdims=True, acc_dtype=x.dtype) * np.float32(1 / x.type.shape[axis])


class MergeLayer(Layer):
    """Base of layers reading several layers (Lasagne's ``MergeLayer``)."""

    def __init__(self, incomings, name=None):
        super().__init__(incomings[0], name)
        for incoming in incomings[1:]:
            if not isinstance(incoming, Layer):
                raise TypeError(f'{self._describe()}: incomings must be Layers, got {type(incoming).__name__}')
        self.incomings = list(incomings)

    @property
    def input_layers(self):
        return self.incomings

    @property
    def output_shape(self):
        return self.get_output_shape_for([layer.output_shape for layer in self.incomings])


class EmbeddingLayer(Layer):
    """Int indices ``shape`` → ``shape + (output_size,)`` rows of ``W`` (``input_size × output_size``)."""

    def __init__(self, incoming, input_size, output_size, W=Normal(0.1), name=None):
        super().__init__(incoming, name)
        self.input_size, self.output_size = input_size, output_size
        self.W = self.add_param(W, (input_size, output_size), name='W')

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape) + (self.output_size,)

    def get_output_for(self, input, **kwargs):
        return self.W[input]


class TimeConvLayer(Layer):
    """``B × V × T × C`` → ``B × V × T × num_filters``: ``filter_size`` taps ``filter_dilation`` steps apart,
    centred ('same' padding with zeros), then ``nonlinearity(taps · W + b)``, W ``(filter_size · C) × F``."""

    def __init__(self, incoming, num_filters, filter_size=3, filter_dilation=1, W=GlorotUniform(),
                 b=Constant(0.), nonlinearity=identity, name=None):
        super().__init__(incoming, name)
        if filter_size % 2 != 1:
            raise ValueError(f'{self._describe()}: filter_size must be odd for centred taps, not {filter_size}')
        self.num_filters, self.filter_size, self.filter_dilation = num_filters, filter_size, filter_dilation
        self.nonlinearity = nonlinearity
        channels = incoming.output_shape[-1]
        self.W = self.add_param(W, (filter_size * channels, num_filters), name='W')
        self.b = self.add_param(b, (num_filters,), name='b', regularizable=False)

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape[:-1]) + (self.num_filters,)

    def get_output_for(self, input, **kwargs):
        steps = input.type.shape[-2]          # the static length of the tensor fed, whatever the template's
        reach = (self.filter_size // 2) * self.filter_dilation
        zeros = pt.zeros(input.type.shape[:-2] + (reach, input.type.shape[-1]), dtype=input.dtype)   # static
        padded = pt.concatenate([zeros, input, zeros], axis=-2)
        taps = [padded[..., k * self.filter_dilation:k * self.filter_dilation + steps, :]
                for k in range(self.filter_size)]
        return self.nonlinearity(pt.dot(pt.concatenate(taps, axis=-1), self.W) + self.b)


class VoiceMeanLayer(Layer):
    """``B × V × T × C`` → ``B × V × T × 2C``: each voice's features, then their mean over the V voices; with
    ``neighbours``, ``4C``: then also the features of the voice above and of the voice below (zeros beyond the
    outer voices), which a mean cannot tell apart from the others."""

    def __init__(self, incoming, neighbours=False, name=None):
        super().__init__(incoming, name)
        self.neighbours = neighbours

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape[:-1]) + ((4 if self.neighbours else 2) * input_shape[-1],)

    def get_output_for(self, input, **kwargs):
        parts = [input, pt.broadcast_to(average(input, axis=1), input.shape)]
        if self.neighbours:
            edge = pt.zeros(input.type.shape[:1] + (1,) + input.type.shape[2:], dtype=input.dtype)   # static
            parts += [pt.concatenate([edge, input[:, :-1]], axis=1), pt.concatenate([input[:, 1:], edge], axis=1)]
        return pt.concatenate(parts, axis=-1)


class LayerNormLayer(Layer):
    """Normalise the last axis to zero mean and unit variance, then ``· gain + bias`` (learned, per channel)."""

    def __init__(self, incoming, name=None):
        super().__init__(incoming, name)
        channels = incoming.output_shape[-1]
        self.gain = self.add_param(Constant(1.), (channels,), name='gain', regularizable=False)
        self.bias = self.add_param(Constant(0.), (channels,), name='bias', regularizable=False)

    def get_output_for(self, input, **kwargs):
        centred = input - average(input, axis=-1)
        scale = pt.sqrt(average(centred ** 2, axis=-1) + EPSILON)
        return centred / scale * self.gain + self.bias


class ElemwiseSumLayer(MergeLayer):
    """The element-wise sum of layers of one shape (broadcasting as NumPy does)."""

    def get_output_shape_for(self, input_shapes):
        return tuple(np.broadcast_shapes(*input_shapes))

    def get_output_for(self, *inputs, **kwargs):
        total = inputs[0]
        for other in inputs[1:]:
            total = total + other
        return total
