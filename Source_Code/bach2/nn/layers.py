"""Lasagne's layer API and semantics, rebuilt on PyTensor (float32 throughout).

What lives here (names and behaviour follow Lasagne's ``init``, ``layers``,
``nonlinearities`` and ``random`` modules, master branch, 2019):

* initialisers :class:`Normal`, :class:`Constant`, :class:`Uniform`,
  :class:`GlorotUniform` drawing from the module RNG (:func:`set_rng`, :func:`get_rng`);
* nonlinearities :func:`sigmoid`, :func:`tanh`, :func:`rectify`, :func:`softmax`, :func:`identity`;
* layers :class:`InputLayer`, :class:`DenseLayer`, :class:`DropoutLayer`, :class:`LSTMLayer`
  (with :class:`Gate`);
* helpers :func:`get_all_layers`, :func:`get_output`, :func:`get_all_params`,
  :func:`get_all_param_values`, :func:`set_all_param_values`, :func:`count_params`,
  :func:`random_updates` (the RNG updates a training function needs after dropout).

Sequences are laid out **batch × time × features**, as in Lasagne. Every
parameter is a float32 shared variable and every input a float32 tensor with
a static shape (the JAX backend needs static shapes), whatever
``pytensor.config.floatX`` says; nothing here changes the global config.
"""
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytensor.tensor.random as ptr

from bach2.nn.lstm_sequence import lstm_sequence

FLOAT = 'float32'

# --------------------------------------------------------------------------- random

_rng = np.random  # like lasagne.random: NumPy's global RandomState until set_rng


def get_rng():
    """The RandomState that initialisers draw from."""
    return _rng


def set_rng(new_rng):
    """Make initialisers draw from ``new_rng`` (a ``numpy.random.RandomState``)."""
    global _rng
    _rng = new_rng


# --------------------------------------------------------------------------- init

class Normal:
    """Draw from N(mean, std²); ``Normal(std)(shape)`` → float32 array of ``shape``."""

    def __init__(self, std=0.01, mean=0.):
        self.std, self.mean = std, mean

    def __call__(self, shape):
        return get_rng().normal(self.mean, self.std, size=shape).astype(FLOAT)


class Constant:
    """Fill with ``val``; ``Constant(val)(shape)`` → float32 array of ``shape``."""

    def __init__(self, val=0.):
        self.val = val

    def __call__(self, shape):
        return np.full(shape, self.val, dtype=FLOAT)


class Uniform:
    """Draw from U(-range, range), or U(low, high) when ``range`` is a pair; float32."""

    def __init__(self, range=0.01):
        self.range = range if isinstance(range, (tuple, list)) else (-range, range)

    def __call__(self, shape):
        low, high = self.range
        return get_rng().uniform(low, high, size=shape).astype(FLOAT)


class GlorotUniform:
    """Glorot & Bengio (2010) uniform: U(±gain·sqrt(6 / (fan_in + fan_out))); float32.

    For shapes of two or more axes, fan_in = shape[0] and fan_out = shape[1],
    each times the product of any further axes (the receptive field).
    """

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape):
        if len(shape) < 2:
            raise ValueError(f'GlorotUniform needs a shape of 2 or more axes, got {shape}')
        receptive_field = int(np.prod(shape[2:]))
        std = self.gain * np.sqrt(2.0 / ((shape[0] + shape[1]) * receptive_field))
        return Uniform(np.sqrt(3.0) * std)(shape)


# --------------------------------------------------------------------------- nonlinearities

def sigmoid(x):
    """Logistic function 1 / (1 + exp(-x)), elementwise."""
    return pt.sigmoid(x)


def tanh(x):
    """Hyperbolic tangent, elementwise."""
    return pt.tanh(x)


def rectify(x):
    """max(x, 0), elementwise."""
    return pt.maximum(x, np.float32(0))


def softmax(x):
    """exp(x) / sum(exp(x)) over the last axis; any number of leading axes."""
    return pt.special.softmax(x, axis=-1)


def identity(x):
    """x unchanged."""
    return x


# --------------------------------------------------------------------------- layers

class Layer:
    """Base class: one input layer, tagged parameters, an output shape and an output expression.

    ``params`` maps each float32 shared variable to its set of tags
    (``'trainable'``, ``'regularizable'``). Subclasses implement
    :meth:`get_output_shape_for` and :meth:`get_output_for`.
    """

    def __init__(self, incoming, name=None):
        if not isinstance(incoming, Layer):
            raise TypeError(f"{type(self).__name__} {name!r}: incoming must be a Layer, "
                            f"got {type(incoming).__name__}")
        self.input_layer = incoming
        self.name = name
        self.params = OrderedDict()

    @property
    def input_layers(self):
        """Every layer whose output this layer reads (in the order get_output_for takes them)."""
        return [self.input_layer]

    @property
    def output_shape(self):
        return self.get_output_shape_for(self.input_layer.output_shape)

    def _describe(self):
        return f'{type(self).__name__} {self.name!r}' if self.name else type(self).__name__

    def _check_num_units(self, num_units):
        if not (isinstance(num_units, (int, np.integer)) and num_units > 0):
            raise ValueError(f'{self._describe()}: num_units must be a positive int, '
                             f'got {num_units!r}')

    def add_param(self, spec, shape, name, **tags):
        """Register a parameter: ``spec`` is a callable(shape), an array or a shared variable.

        Tags ``trainable`` and ``regularizable`` default to True. The shared
        variable is named ``'<layer name>.<name>'`` when the layer has a name.
        """
        shape = tuple(shape)
        if spec is None:
            raise ValueError(f'{self._describe()}: parameter {name} needs an initialiser, got None')
        if isinstance(spec, pytensor.compile.SharedVariable):
            value = spec.get_value()
        else:
            value = spec(shape) if callable(spec) else np.asarray(spec, dtype=FLOAT)
        if value.shape != shape:
            raise ValueError(f'{self._describe()}: parameter {name} should have shape {shape}, '
                             f'its initial value has shape {value.shape}')
        if isinstance(spec, pytensor.compile.SharedVariable):
            param = spec
        else:
            full_name = f'{self.name}.{name}' if self.name else name
            # a static shape on every parameter lets the JAX backend trace the graph
            param = pytensor.shared(np.asarray(value, dtype=FLOAT), name=full_name, shape=shape)
        tags.setdefault('trainable', True)
        tags.setdefault('regularizable', True)
        self.params[param] = {tag for tag, on in tags.items() if on}
        return param

    def get_params(self, **tags):
        """Parameters having every tag set True and none of the tags set False."""
        wanted = {tag for tag, on in tags.items() if on}
        unwanted = {tag for tag, on in tags.items() if not on}
        return [p for p, have in self.params.items() if wanted <= have and not unwanted & have]

    def get_output_shape_for(self, input_shape):
        return input_shape

    def get_output_for(self, input, **kwargs):
        raise NotImplementedError


class InputLayer(Layer):
    """The network's input: a float32 tensor of static ``shape`` (a tuple of positive ints)."""

    def __init__(self, shape, input_var=None, name=None):
        shape = tuple(shape)
        if not all(isinstance(d, (int, np.integer)) and d > 0 for d in shape):
            raise ValueError(f'InputLayer {name!r}: shape must be positive ints (the JAX backend '
                             f'needs static shapes), got {shape}')
        if input_var is None:
            input_var = pt.tensor(name=name or 'input', dtype=FLOAT, shape=shape)
        elif input_var.ndim != len(shape):
            raise ValueError(f'InputLayer {name!r}: input_var has {input_var.ndim} dimensions, '
                             f'shape {shape} has {len(shape)}')
        self.input_layer, self.name, self.params = None, name, OrderedDict()
        self.shape, self.input_var = shape, input_var

    @property
    def input_layers(self):
        return []

    @property
    def output_shape(self):
        return self.shape


class DenseLayer(Layer):
    """Fully connected layer: nonlinearity(input · W + b).

    The first ``num_leading_axes`` axes are kept (batch, or batch and time
    with ``num_leading_axes=2``); the remaining axes are flattened into
    features. W: float32 (num_inputs, num_units); b: float32 (num_units,) or None.
    Output: input_shape[:num_leading_axes] + (num_units,).
    """

    def __init__(self, incoming, num_units, W=GlorotUniform(), b=Constant(0.),
                 nonlinearity=sigmoid, num_leading_axes=1, name=None):
        super().__init__(incoming, name)
        input_shape = incoming.output_shape
        self._check_num_units(num_units)
        self.num_units = num_units
        self.nonlinearity = identity if nonlinearity is None else nonlinearity
        if num_leading_axes < 0:
            num_leading_axes += len(input_shape)
        if not 0 <= num_leading_axes < len(input_shape):
            raise ValueError(f'{self._describe()}: num_leading_axes={num_leading_axes} for a '
                             f'{len(input_shape)}-dimensional input {input_shape} leaves no axes '
                             f'for the dot product')
        self.num_leading_axes = num_leading_axes
        num_inputs = int(np.prod(input_shape[num_leading_axes:]))
        self.W = self.add_param(W, (num_inputs, num_units), name='W')
        self.b = None if b is None else self.add_param(b, (num_units,), name='b',
                                                       regularizable=False)

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape[:self.num_leading_axes]) + (self.num_units,)

    def get_output_for(self, input, **kwargs):
        if input.ndim > self.num_leading_axes + 1:
            # (leading..., trailing...) -> (leading..., prod(trailing)): one feature axis
            input = pt.flatten(input, self.num_leading_axes + 1)
        activation = pt.dot(input, self.W)  # (leading..., num_units)
        if self.b is not None:
            activation = activation + self.b
        return self.nonlinearity(activation)


class DropoutLayer(Layer):
    """Dropout (Lasagne's ``DropoutLayer``): each input element is set to 0 with probability ``p``.

    With ``rescale`` the kept elements are divided by 1 − p, so the expected
    output equals the input at training time; ``deterministic=True`` (passed
    through :func:`get_output`: validation, evaluation, sampling) returns the
    input unchanged, as does ``p = 0``. The mask is ``uniform < 1 − p`` drawn
    from the layer's own shared generator (seeded from :func:`get_rng`); the
    function that trains must apply :func:`random_updates`, or every call draws the same mask.
    """

    def __init__(self, incoming, p=0.5, rescale=True, name=None):
        super().__init__(incoming, name)
        if not 0 <= p < 1:
            raise ValueError(f'{self._describe()}: p must be in [0, 1), got {p}')
        self.p, self.rescale = p, rescale
        self.rng = ptr.shared_rng(seed=int(get_rng().randint(2 ** 31)), name=f'{name or "dropout"}.rng')
        self.next_rng = None          # the generator's next state, once a random output has been built

    def get_output_for(self, input, deterministic=False, **kwargs):
        if deterministic or self.p == 0:
            return input
        retain = np.float32(1 - self.p)
        self.next_rng, uniform = self.rng.uniform(size=input.shape, dtype=FLOAT)
        kept = input * pt.lt(uniform, retain).astype(FLOAT)
        return kept / retain if self.rescale else kept


class Gate:
    """Initialisers and nonlinearity of one LSTM gate (W_cell=None: no peephole)."""

    def __init__(self, W_in=Normal(0.1), W_hid=Normal(0.1), W_cell=Normal(0.1),
                 b=Constant(0.), nonlinearity=sigmoid):
        self.W_in, self.W_hid, self.W_cell, self.b = W_in, W_hid, W_cell, b
        self.nonlinearity = identity if nonlinearity is None else nonlinearity


GATE_NAMES = ('ingate', 'forgetgate', 'cell', 'outgate')  # stacking order, as in Lasagne


class LSTMLayer(Layer):
    """Long short-term memory with optional peepholes (Graves 2013; Lasagne's ``LSTMLayer``).

    For input x_t (features), previous hidden state h_{t-1} and cell c_{t-1}::

        i_t = σ_i(x_t W_xi + h_{t-1} W_hi + w_ci ⊙ c_{t-1} + b_i)
        f_t = σ_f(x_t W_xf + h_{t-1} W_hf + w_cf ⊙ c_{t-1} + b_f)
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ σ_c(x_t W_xc + h_{t-1} W_hc + b_c)
        o_t = σ_o(x_t W_xo + h_{t-1} W_ho + w_co ⊙ c_t + b_o)
        h_t = o_t ⊙ nonlinearity(c_t)

    W_x* come from each :class:`Gate`'s ``W_in`` (``W_in_to_<gate>``, features × num_units),
    W_h* from ``W_hid`` (``W_hid_to_<gate>``), b_* from ``b`` (``b_<gate>``) and the
    peephole vectors w_c* from ``W_cell`` (``W_cell_to_<gate>``, only with
    ``peepholes=True``; the output gate's peephole reads the *new* cell c_t).
    Gates are stacked [in, forget, cell, out]. ``cell_init`` and ``hid_init``
    are (1, num_units) parameters, trainable only with ``learn_init``.

    Input: float32 (batch, time, features). ``mask_input``: a layer giving
    float32 (batch, time), 1 for real steps and 0 for padding; where it is 0 the
    cell and hidden state carry over unchanged. Output: float32
    (batch, time, num_units), or (batch, num_units) with ``only_return_final``
    (the state after the last step processed). ``backwards`` runs the sequence
    in reverse and returns the outputs in the original time order.
    ``grad_clipping`` > 0 clips the gradient reaching the gate pre-activations
    (x_t W_x + h_{t-1} W_h + b) to [-grad_clipping, grad_clipping] inside every
    step; the forward pass is unchanged. ``gradient_steps`` truncates
    backpropagation through time (-1: no truncation). ``precompute_input``
    computes x_t W_x + b for all steps before the scan (same numbers).
    ``fused``: the whole recurrence as one operation (:mod:`bach2.nn.lstm_sequence`, the
    same numbers, the input product inside) where nothing needs the scan: no mask, no
    truncation, no gate probes, the default nonlinearities (the models fuse on PyTensor's
    C backend: :data:`bach2.rnn_model.FUSED`).

    References: Graves, A. (2013) Generating sequences with recurrent neural
    networks, arXiv:1308.0850; Lasagne ``layers/recurrent.py``.
    """

    def __init__(self, incoming, num_units, ingate=Gate(), forgetgate=Gate(),
                 cell=Gate(W_cell=None, nonlinearity=tanh), outgate=Gate(),
                 nonlinearity=tanh, cell_init=Constant(0.), hid_init=Constant(0.),
                 backwards=False, learn_init=False, peepholes=True, gradient_steps=-1,
                 grad_clipping=0, precompute_input=True, mask_input=None,
                 only_return_final=False, fused=False, name=None):
        super().__init__(incoming, name)
        input_shape = incoming.output_shape
        if len(input_shape) != 3:
            raise ValueError(f'{self._describe()}: input must be 3-D (batch, time, features), '
                             f'got shape {input_shape}')
        if mask_input is not None and tuple(mask_input.output_shape) != tuple(input_shape[:2]):
            raise ValueError(f'{self._describe()}: mask shape {mask_input.output_shape} must be '
                             f'(batch, time) = {tuple(input_shape[:2])}')
        self._check_num_units(num_units)
        if grad_clipping < 0:
            raise ValueError(f'{self._describe()}: grad_clipping must be >= 0, got {grad_clipping}')
        self.num_units = num_units
        self.nonlinearity = identity if nonlinearity is None else nonlinearity
        self.backwards, self.learn_init, self.peepholes = backwards, learn_init, peepholes
        self.gradient_steps, self.grad_clipping = gradient_steps, grad_clipping
        self.precompute_input, self.only_return_final = precompute_input, only_return_final
        self.mask_input, self.fused = mask_input, fused
        num_inputs = input_shape[2]
        gates = dict(zip(GATE_NAMES, (ingate, forgetgate, cell, outgate)))
        self.gate_nonlinearities = [gates[g].nonlinearity for g in GATE_NAMES]
        for g in GATE_NAMES:  # sets self.W_in_to_ingate, self.W_hid_to_ingate, self.b_ingate, ...
            setattr(self, f'W_in_to_{g}', self.add_param(gates[g].W_in, (num_inputs, num_units),
                                                         name=f'W_in_to_{g}'))
            setattr(self, f'W_hid_to_{g}', self.add_param(gates[g].W_hid, (num_units, num_units),
                                                          name=f'W_hid_to_{g}'))
            setattr(self, f'b_{g}', self.add_param(gates[g].b, (num_units,), name=f'b_{g}',
                                                   regularizable=False))
        if peepholes:  # elementwise (vector) connections from the cell to three gates
            for g in ('ingate', 'forgetgate', 'outgate'):
                setattr(self, f'W_cell_to_{g}', self.add_param(gates[g].W_cell, (num_units,),
                                                               name=f'W_cell_to_{g}'))
        self.cell_init = self.add_param(cell_init, (1, num_units), name='cell_init',
                                        trainable=learn_init, regularizable=False)
        self.hid_init = self.add_param(hid_init, (1, num_units), name='hid_init',
                                       trainable=learn_init, regularizable=False)

    @property
    def input_layers(self):
        return [self.input_layer] + ([self.mask_input] if self.mask_input is not None else [])

    def get_output_shape_for(self, input_shape):
        if self.only_return_final:
            return input_shape[0], self.num_units
        return input_shape[0], input_shape[1], self.num_units

    def stacked_params(self):
        """(W_in (features, 4n), W_hid (n, 4n), b (4n,), peepholes [w_ci, w_cf, w_co] or []).

        The four gates sit side by side: [in, forget, cell, out].
        """
        def stacked(prefix, axis):
            return pt.concatenate([getattr(self, f'{prefix}{g}') for g in GATE_NAMES], axis=axis)
        peep = ([self.W_cell_to_ingate, self.W_cell_to_forgetgate, self.W_cell_to_outgate]
                if self.peepholes else [])
        return stacked('W_in_to_', axis=1), stacked('W_hid_to_', axis=1), stacked('b_', axis=0), peep

    def advance(self, gates, cell_prev, peep):
        """Gate pre-activations (batch, 4n) and c_{t-1} (batch, n) → (c_t, h_t), each (batch, n)."""
        n = self.num_units
        act_i, act_f, act_c, act_o = self.gate_nonlinearities
        ingate, forgetgate, cell_in, outgate = (gates[:, k * n:(k + 1) * n] for k in range(4))
        if self.peepholes:
            ingate = ingate + cell_prev * peep[0]
            forgetgate = forgetgate + cell_prev * peep[1]
        cell = act_f(forgetgate) * cell_prev + act_i(ingate) * act_c(cell_in)
        if self.peepholes:
            outgate = outgate + cell * peep[2]  # the output peephole sees the new cell
        return cell, act_o(outgate) * self.nonlinearity(cell)

    def get_step_output(self, input_n, cell_prev, hid_prev):
        """One step for a sampler that carries the state: x_t (batch, features), c_{t-1}, h_{t-1} → (c_t, h_t)."""
        W_in, W_hid, b, peep = self.stacked_params()
        return self.advance(pt.dot(input_n, W_in) + b + pt.dot(hid_prev, W_hid), cell_prev, peep)

    def get_output_for(self, input, mask=None, reset=None, state_in=None, state_out=None, gate_probes=None,
                       **kwargs):
        """Output for ``input`` (batch, time, features); the three extras carry a state across calls.

        ``reset`` (batch, time) float32: 1 where the state returns to ``cell_init`` / ``hid_init``
        before the step (a new piece begins inside the sequence). ``state_in`` {layer: (cell, hid)},
        each (batch, n): the state before the first step, instead of the initial one.
        ``state_out``: a dict that receives {layer: (cell, hid)} after the last step.
        ``gate_probes``: a dict that receives {layer: probe}, a (time, batch, 4n) zero tensor added to the gate
        pre-activations after their clip, so that ``pytensor.grad(cost, probe)`` is the gradient reaching
        them before GRAD_CLIPPING acts (what it compares with its bound); the numbers are unchanged.
        """
        # (batch, time, features) -> (time, batch, features): scan iterates over axis 0
        input = input.dimshuffle(1, 0, 2)
        cell_init, hid_init = self._initial_state(input.shape[1], state_in)
        if self._fusable(mask, gate_probes):
            cell_out, hid_out = self._fused_recurrence(input, reset, cell_init, hid_init)
        else:
            cell_out, hid_out = self._scan_recurrence(input, mask, reset, cell_init, hid_init, gate_probes)
        return self._outputs(cell_out, hid_out, state_out)

    def _initial_state(self, n_batch, state_in):
        """(c_0, h_0), each (batch, n): from ``state_in`` when it holds this layer, else the learned initial state."""
        if state_in and self in state_in:
            return state_in[self]
        # (1, n) -> (batch, n): the same initial state for every sequence
        return pt.repeat(self.cell_init, n_batch, axis=0), pt.repeat(self.hid_init, n_batch, axis=0)

    def _fused_recurrence(self, input, reset, cell_init, hid_init):
        """The whole recurrence as one Op (:func:`~bach2.nn.lstm_sequence.lstm_sequence`): ``input``
        (time, batch, features) → (cells, hiddens), each (time, batch, n)."""
        W_in, W_hid, b, peep = self.stacked_params()
        resets = pt.zeros(input.shape[:2], dtype='float32') if reset is None else reset.T   # (time, batch)
        if self.backwards:
            input, resets = input[::-1], resets[::-1]
        peep_rows = pt.stack(peep) if peep else pt.zeros((3, self.num_units), dtype='float32')
        return lstm_sequence(input, W_in, b, W_hid, peep_rows, cell_init, hid_init, resets,
                             self.cell_init, self.hid_init, self.grad_clipping)

    def _scan_recurrence(self, input, mask, reset, cell_init, hid_init, gate_probes):
        """The recurrence as a ``pytensor.scan`` over ``input`` (time, batch, features), with the mask, resets,
        gradient truncation and gate probes of :meth:`get_output_for` → (cells, hiddens), each (time, batch, n)."""
        W_in, W_hid, b, peep = self.stacked_params()
        n_batch = input.shape[1]
        if self.precompute_input:
            input = pt.dot(input, W_in) + b  # (time, batch, 4n)
        clip = np.float32(self.grad_clipping)
        n_peep = len(peep)
        probe = None
        if gate_probes is not None:
            probe = pt.zeros((input.shape[0], n_batch, 4 * self.num_units), dtype='float32')
            gate_probes[self] = probe

        def step(input_n, *rest):
            rest = list(rest)
            probe_n = rest.pop(0) if probe is not None else None     # (batch, 4n) zeros
            mask_n = rest.pop(0) if mask is not None else None        # (batch, 1) each
            reset_n = rest.pop(0) if reset is not None else None
            cell_prev, hid_prev, W_hid, *rest = rest
            peep_n, rest = rest[:n_peep], rest[n_peep:]
            if not self.precompute_input:
                W_in_n, b_n, *rest = rest
                input_n = pt.dot(input_n, W_in_n) + b_n
            if reset_n is not None:     # a new sequence starts here: back to the initial state
                cell_start, hid_start = rest
                cell_prev = pt.switch(reset_n, cell_start, cell_prev)
                hid_prev = pt.switch(reset_n, hid_start, hid_prev)
            gates = input_n + pt.dot(hid_prev, W_hid)  # (batch, 4n) pre-activations
            if self.grad_clipping:
                gates = pytensor.gradient.grad_clip(gates, -clip, clip)
            if probe_n is not None:
                gates = gates + probe_n
            cell, hid = self.advance(gates, cell_prev, peep_n)
            if mask_n is not None:      # keep the previous state where the step is padding
                cell, hid = pt.switch(mask_n, cell, cell_prev), pt.switch(mask_n, hid, hid_prev)
            return cell, hid

        sequences = [input] + ([probe] if probe is not None else [])
        for per_step in (mask, reset):
            if per_step is not None:
                # (batch, time) -> (time, batch, 1): per-step column broadcast over units
                sequences.append(per_step.dimshuffle(1, 0, 'x'))
        non_sequences = [W_hid] + peep + ([] if self.precompute_input else [W_in, b])
        if reset is not None:
            non_sequences += [self.cell_init, self.hid_init]
        return pytensor.scan(
            step, sequences=sequences, outputs_info=[cell_init, hid_init], non_sequences=non_sequences,
            go_backwards=self.backwards, truncate_gradient=self.gradient_steps,
            strict=True, return_updates=False)

    def _fusable(self, mask, gate_probes):
        """Whether :mod:`bach2.nn.lstm_sequence` computes this layer's recurrence (see ``fused``)."""
        return (self.fused and mask is None and gate_probes is None and self.gradient_steps < 0
                and self.nonlinearity is tanh and self.gate_nonlinearities == [sigmoid, sigmoid, tanh, sigmoid])

    def _outputs(self, cell_out, hid_out, state_out):
        """The layer's output from the states (time, batch, n) in processing order; the last into ``state_out``."""
        if state_out is not None:
            state_out[self] = (cell_out[-1], hid_out[-1])
        # hid_out is (time, batch, n), in processing order (reversed when backwards)
        if self.only_return_final:
            return hid_out[-1]  # (batch, n)
        if self.backwards:
            hid_out = hid_out[::-1]  # back to the original time order
        return hid_out.dimshuffle(1, 0, 2)  # (time, batch, n) -> (batch, time, n)


# --------------------------------------------------------------------------- helpers

def get_all_layers(layer, treat_as_input=None):
    """Every layer feeding ``layer`` (a layer or list), inputs first, each once.

    Layers in ``treat_as_input`` are listed but not looked behind.
    """
    stop = set(treat_as_input or ())
    ordered, seen = [], set()

    def visit(current):
        if current in seen:
            return
        seen.add(current)
        if current not in stop:
            for parent in current.input_layers:
                visit(parent)
        ordered.append(current)

    for top in (layer if isinstance(layer, (list, tuple)) else [layer]):
        visit(top)
    return ordered


def get_output(layer_or_layers, inputs=None, **kwargs):
    """Symbolic output of a layer (or list of outputs for a list of layers).

    ``inputs``: None (each InputLayer's ``input_var``), one variable for the
    network's single InputLayer, or a dict {layer: variable} replacing those
    layers' outputs. ``kwargs`` are passed to every ``get_output_for``.
    """
    given = dict(inputs) if isinstance(inputs, dict) else {}
    all_layers = get_all_layers(layer_or_layers, treat_as_input=given.keys())
    if inputs is not None and not isinstance(inputs, dict):
        input_layers = [l for l in all_layers if isinstance(l, InputLayer)]
        if len(input_layers) != 1:
            raise ValueError(f'get_output: the network has {len(input_layers)} InputLayers; '
                             f'pass inputs as a dict {{layer: variable}}')
        given[input_layers[0]] = inputs
    outputs = {l: pt.as_tensor_variable(v) for l, v in given.items()}
    for layer in all_layers:
        if layer not in outputs:
            if isinstance(layer, InputLayer):
                outputs[layer] = layer.input_var
            else:
                outputs[layer] = layer.get_output_for(
                    *[outputs[l] for l in layer.input_layers], **kwargs)
    if isinstance(layer_or_layers, (list, tuple)):
        return [outputs[l] for l in layer_or_layers]
    return outputs[layer_or_layers]


def get_all_params(layer, **tags):
    """Parameters of every layer feeding ``layer``, in layer order, each once (tag filter as
    :meth:`Layer.get_params`)."""
    params = []
    for l in get_all_layers(layer):
        params.extend(p for p in l.get_params(**tags) if p not in params)
    return params


def get_all_param_values(layer, **tags):
    """Current values of :func:`get_all_params` as a list of float32 ndarrays.

    (After a JAX-mode update a shared variable holds a JAX array; it is copied to NumPy.)
    """
    return [np.asarray(p.get_value()) for p in get_all_params(layer, **tags)]


def set_all_param_values(layer, values, **tags):
    """Set :func:`get_all_params` from ``values`` (same order); ValueError names any mismatch."""
    params = get_all_params(layer, **tags)
    if len(params) != len(values):
        raise ValueError(f'set_all_param_values: got {len(values)} values for '
                         f'{len(params)} parameters ({", ".join(p.name for p in params)})')
    for p, v in zip(params, values):
        v = np.asarray(v)
        if p.get_value().shape != v.shape:
            raise ValueError(f'set_all_param_values: parameter {p.name} has shape '
                             f'{p.get_value().shape} but its value has shape {v.shape}')
    for p, v in zip(params, values):
        p.set_value(np.asarray(v, dtype=p.dtype))


def count_params(layer, **tags):
    """Number of scalar parameters in :func:`get_all_params` (``trainable=True`` to skip inits)."""
    return sum(int(np.prod(p.get_value().shape)) for p in get_all_params(layer, **tags))


def random_updates(layer):
    """{generator: next state} of every :class:`DropoutLayer` feeding ``layer`` whose random output was built."""
    return {l.rng: l.next_rng for l in get_all_layers(layer) if isinstance(l, DropoutLayer) and l.next_rng is not None}
