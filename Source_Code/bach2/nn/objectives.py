"""Loss expressions (Lasagne's ``objectives``): elementwise losses and their aggregation.

Predictions are probabilities (sigmoid or softmax outputs), float32, any
shape. Before taking logarithms they are clipped to [ε, 1 − ε] with
ε = 1e-7 in float32, so a saturated prediction (exactly 0 or 1, which float32
sigmoids reach) gives a large finite loss and a finite gradient instead of
inf/nan. The clipped loss is at most −log(ε) ≈ 16.1 nats per element.
"""
import numpy as np
import pytensor.tensor as pt

EPSILON = np.float32(1e-7)


def _clip(predictions):
    return pt.clip(predictions, EPSILON, np.float32(1) - EPSILON)


def binary_crossentropy(predictions, targets):
    """Elementwise −(t·log p + (1 − t)·log(1 − p)), p clipped to [ε, 1 − ε].

    predictions, targets: same shape (targets in [0, 1], usually 0/1 notes);
    returns that shape, in nats.
    """
    p = _clip(predictions)
    one = np.float32(1)
    return -(targets * pt.log(p) + (one - targets) * pt.log(one - p))


def categorical_crossentropy(predictions, targets):
    """−Σ_k t_k·log p_k over the last axis, p clipped to [ε, 1 − ε].

    predictions: (..., K) distributions over K classes; targets: one-hot (or
    any distribution) of the same shape. Returns shape (...), in nats.
    """
    if predictions.ndim != targets.ndim:
        raise ValueError(f'categorical_crossentropy: targets must be one-hot with the shape of '
                         f'predictions ({predictions.ndim}-D), got {targets.ndim}-D')
    return -pt.sum(targets * pt.log(_clip(predictions)), axis=-1)


def aggregate(loss, weights=None, mode='mean'):
    """Reduce an elementwise loss to a scalar.

    weights: None or a tensor broadcastable to ``loss`` (e.g. a 0/1 mask),
    multiplied in first. mode: 'mean' (mean over all elements), 'sum', or
    'normalized_sum' (Σ w·loss / Σ w; needs weights).
    """
    if weights is not None:
        loss = loss * weights
    if mode == 'mean':
        return loss.mean()
    if mode == 'sum':
        return loss.sum()
    if mode == 'normalized_sum':
        if weights is None:
            raise ValueError("aggregate: mode='normalized_sum' needs weights")
        return loss.sum() / weights.sum()
    raise ValueError(f"aggregate: mode must be 'mean', 'sum' or 'normalized_sum', got {mode!r}")
