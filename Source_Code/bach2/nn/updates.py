"""Optimisers as plain functions returning an OrderedDict of updates (Lasagne's ``updates``).

Each optimiser takes a scalar loss (or the list of its gradients), the
float32 shared parameters and its hyper-parameters, and returns
``OrderedDict({shared_variable: new_value_expression})`` for
``pytensor.function(..., updates=...)``. Accumulators are float32 shared
variables shaped like their parameter and start at zero; hyper-parameters are
cast to float32 so every update stays float32. In the rules below g is the
gradient of the loss with respect to the parameter p at the current step.
"""
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt


def _f32(x):
    """A hyper-parameter as float32: a NumPy scalar, or a cast of a symbolic one."""
    if isinstance(x, pytensor.graph.basic.Variable):
        return x if x.dtype == 'float32' else pt.cast(x, 'float32')
    return np.float32(x)


def _zeros_like(param, name):
    """A float32 shared accumulator of the parameter's shape, filled with zeros."""
    value = param.get_value(borrow=True)
    return pytensor.shared(np.zeros(value.shape, dtype='float32'), name=name,
                           shape=value.shape)


def get_or_compute_grads(loss_or_grads, params):
    """Gradients of a scalar loss w.r.t. ``params``, or ``loss_or_grads`` itself if it is a list.

    Raises ValueError when a parameter is not a shared variable or when a
    given list of gradients does not match ``params`` in length.
    """
    for p in params:
        if not isinstance(p, pytensor.compile.SharedVariable):
            raise ValueError(f'params must be shared variables (they are updated in place), '
                             f'got {p!r} of type {type(p).__name__}')
    if isinstance(loss_or_grads, (list, tuple)):
        if len(loss_or_grads) != len(params):
            raise ValueError(f'got {len(loss_or_grads)} gradients for {len(params)} parameters')
        return list(loss_or_grads)
    return pytensor.grad(loss_or_grads, params)


def sgd(loss_or_grads, params, learning_rate):
    """Stochastic gradient descent: p ← p − η·g.

    learning_rate η > 0: step size.
    Reference: Robbins & Monro (1951), A stochastic approximation method.
    """
    grads = get_or_compute_grads(loss_or_grads, params)
    lr = _f32(learning_rate)
    return OrderedDict((p, p - lr * g) for p, g in zip(params, grads))


def adagrad(loss_or_grads, params, learning_rate=1.0, epsilon=1e-6):
    """Adagrad: a ← a + g²;  p ← p − η·g / sqrt(a + ε).

    learning_rate η > 0: global step size (each weight's effective step
    shrinks as its squared gradients accumulate in a); epsilon ε > 0: keeps
    the square root away from zero (inside the root, as in Lasagne).
    Reference: Duchi, Hazan & Singer (2011), Adaptive subgradient methods
    for online learning and stochastic optimization, JMLR 12.
    """
    grads = get_or_compute_grads(loss_or_grads, params)
    lr, eps = _f32(learning_rate), _f32(epsilon)
    updates = OrderedDict()
    for p, g in zip(params, grads):
        acc = _zeros_like(p, f'{p.name}_adagrad_acc')
        acc_new = acc + g ** 2
        updates[acc] = acc_new
        updates[p] = p - lr * g / pt.sqrt(acc_new + eps)
    return updates


def rmsprop(loss_or_grads, params, learning_rate=1.0, rho=0.9, epsilon=1e-6):
    """RMSprop: a ← ρ·a + (1 − ρ)·g²;  p ← p − η·g / sqrt(a + ε).

    learning_rate η > 0: step size; rho ρ in [0, 1): decay of the running
    average of squared gradients (0.9 averages over roughly the last 10
    steps); epsilon ε > 0: inside the square root, as in Lasagne.
    Reference: Tieleman & Hinton (2012), Lecture 6.5 - RMSprop,
    COURSERA: Neural Networks for Machine Learning.
    """
    grads = get_or_compute_grads(loss_or_grads, params)
    lr, rho, eps = _f32(learning_rate), _f32(rho), _f32(epsilon)
    one = np.float32(1)
    updates = OrderedDict()
    for p, g in zip(params, grads):
        acc = _zeros_like(p, f'{p.name}_rmsprop_acc')
        acc_new = rho * acc + (one - rho) * g ** 2
        updates[acc] = acc_new
        updates[p] = p - lr * g / pt.sqrt(acc_new + eps)
    return updates


def adam(loss_or_grads, params, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8):
    """Adam, with the bias correction folded into the step size (Lasagne's form)::

        t ← t + 1;  α_t = η·sqrt(1 − β₂ᵗ) / (1 − β₁ᵗ)
        m ← β₁·m + (1 − β₁)·g;  v ← β₂·v + (1 − β₂)·g²
        p ← p − α_t·m / (sqrt(v) + ε)

    learning_rate η > 0: step size; beta1 β₁, beta2 β₂ in [0, 1): decay of
    the first and second moment estimates; epsilon ε > 0: outside the root.
    The step counter t is a float32 shared scalar updated with the parameters.
    Reference: Kingma & Ba (2015), Adam: a method for stochastic
    optimization, ICLR, arXiv:1412.6980.
    """
    grads = get_or_compute_grads(loss_or_grads, params)
    lr, b1, b2, eps = _f32(learning_rate), _f32(beta1), _f32(beta2), _f32(epsilon)
    one = np.float32(1)
    t_prev = pytensor.shared(np.float32(0), name='adam_t')
    t = t_prev + one
    step_size = lr * pt.sqrt(one - b2 ** t) / (one - b1 ** t)
    updates = OrderedDict()
    for p, g in zip(params, grads):
        m_prev = _zeros_like(p, f'{p.name}_adam_m')
        v_prev = _zeros_like(p, f'{p.name}_adam_v')
        m = b1 * m_prev + (one - b1) * g
        v = b2 * v_prev + (one - b2) * g ** 2
        updates[m_prev], updates[v_prev] = m, v
        updates[p] = p - step_size * m / (pt.sqrt(v) + eps)
    updates[t_prev] = t
    return updates


def total_norm_constraint(tensor_vars, max_norm, epsilon=1e-7, return_norm=False):
    """Rescale ``tensor_vars`` (e.g. gradients) jointly so that their total norm is ≤ max_norm.

    norm = sqrt(Σ_k Σ x_k²); each x_k ← x_k · clip(norm, 0, max_norm) / (ε + norm),
    so tensors whose total norm is already below max_norm come back (almost)
    unchanged. max_norm > 0; epsilon ε > 0 avoids dividing by zero. Returns
    the list of rescaled tensors, and the (float32 scalar) norm before
    rescaling when ``return_norm``. Compose with any optimiser by passing the
    rescaled gradients as ``loss_or_grads``.
    Reference: Sutskever, Vinyals & Le (2014), Sequence to sequence learning
    with neural networks, NIPS.
    """
    norm = pt.sqrt(sum(pt.sum(x ** 2) for x in tensor_vars))
    target = pt.clip(norm, np.float32(0), _f32(max_norm))
    multiplier = target / (_f32(epsilon) + norm)
    scaled = [x * multiplier for x in tensor_vars]
    return (scaled, norm) if return_norm else scaled
