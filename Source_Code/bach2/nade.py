"""A NADE output layer: the joint distribution of the pitches of one step, given the LSTM's state.

The faithful model gives each pitch its own sigmoid, independent of the others,
so it cannot learn which notes sound together. :class:`NADELayer` models the
whole step ``v`` (P pitches, 0/1) as a product of conditionals, low pitch to
high (Larochelle & Murray 2011), with biases set by the LSTM output ``h`` — the
RNN-NADE of Boulanger-Lewandowski et al. (2012), here with an LSTM:

    b_v = b + h·U_v                   (P)    visible biases of this step
    a_i = c + h·U_h + Σ_{j<i} v_j W_j  (H)    NADE hidden pre-activation for pitch i
    p(v_i = 1 | v_<i, h) = σ(b_v,i + V_i · σ(a_i))

``log p(v | h) = Σ_i log p(v_i | v_<i, h)`` is exact, so the NLL per frame is
comparable with the literature. Training and evaluation feed the true step
(teacher forcing: all P conditionals at once with a cumulative sum); sampling
draws pitch after pitch, each conditional reading the pitches drawn below it.
"""
import pytensor
import pytensor.tensor as pt

from bach2.layers import Constant, Layer, Normal


class NADELayer(Layer):
    """Output layer over P pitches with H NADE hidden units, reading an ``B × N`` LSTM output.

    Parameters: W (P × H), V (P × H), b (P), c (H), U_v (N × P), U_h (N × H), all float32.
    ``get_output_for(h, targets=v)`` → ``B × P`` conditionals p(v_i = 1 | v_<i, h); h may have
    more leading axes (``B × T × N`` with ``B × T × P`` targets → ``B × T × P``).
    """

    def __init__(self, incoming, num_units, num_hidden, W=Normal(0.01), V=Normal(0.01), U=Normal(0.01),
                 b=Constant(0.), c=Constant(0.), name=None):
        super().__init__(incoming, name)
        self._check_num_units(num_units)
        self._check_num_units(num_hidden)
        num_inputs = incoming.output_shape[-1]
        self.num_units, self.num_hidden = num_units, num_hidden
        self.W = self.add_param(W, (num_units, num_hidden), name='W')
        self.V = self.add_param(V, (num_units, num_hidden), name='V')
        self.b = self.add_param(b, (num_units,), name='b', regularizable=False)
        self.c = self.add_param(c, (num_hidden,), name='c', regularizable=False)
        self.U_v = self.add_param(U, (num_inputs, num_units), name='U_v')
        self.U_h = self.add_param(U, (num_inputs, num_hidden), name='U_h')

    def get_output_shape_for(self, input_shape):
        return input_shape[0], self.num_units

    def biases(self, h):
        """LSTM output ``B × N`` → (visible biases ``B × P``, hidden biases ``B × H``) of this step."""
        return self.b + pt.dot(h, self.U_v), self.c + pt.dot(h, self.U_h)

    def get_output_for(self, input, targets=None, **kwargs):
        if targets is None:
            raise ValueError(f'{self._describe()}: the conditionals of a NADE need the step itself (targets=)')
        static = input.type.shape[:-1]          # static where known: the JAX backend traces fixed shapes
        leading = tuple(static) if None not in static else input.shape[:-1]
        h = input.reshape((-1, input.shape[-1]))                            # rows × N
        visible, hidden = self.biases(h)
        below = targets.reshape((-1, self.num_units))[:, :, None] * self.W[None]   # rows × P × H: v_j W_j
        activation = hidden[:, None, :] + pt.cumsum(below, axis=1) - below   # Σ over j < i only
        logits = visible + (pt.sigmoid(activation) * self.V[None]).sum(axis=2)
        return pt.sigmoid(logits).reshape((*leading, self.num_units))

    def sample(self, h, cutoffs, temperature):
        """Draw one step for ``h`` (1 × N): pitch i sounds where p_i > ``cutoffs[i]`` (P) → (step P, p P).

        Each conditional's logit is divided by ``temperature``; uniform cutoffs
        are exact sampling from the NADE, cutoffs of 0.5 take each pitch's likelier value.
        """
        visible, hidden = self.biases(h)

        def pitch(b_i, W_i, V_i, cutoff_i, activation):
            p_i = pt.sigmoid((b_i + pt.dot(pt.sigmoid(activation), V_i)) / temperature)
            v_i = pt.gt(p_i, cutoff_i).astype('float32')
            return activation + v_i * W_i, v_i, p_i

        outputs = pytensor.scan(pitch, sequences=[visible[0], self.W, self.V, cutoffs],
                                outputs_info=[hidden[0], None, None], return_updates=False)
        return outputs[1], outputs[2]

