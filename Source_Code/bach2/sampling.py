"""Continue a piece with a trained model, one step at a time (polyphonic mode).

Each step feeds the last SEQUENCE_LENGTH steps to the compiled ``predict`` and
draws the next step: Bernoulli per pitch (``p > uniform``), or the journal's
threshold (``p > 0.5``). The window is copied into every row of the model's
static batch; row 0 is used.
"""
import numpy as np


def continue_piece(model, primer, n_steps, seed=0, threshold=None):
    """``L × P`` primer → ``n_steps × P`` uint8 continuation; ``threshold=0.5`` is the journal's rule."""
    config = model.config
    window = np.asarray(primer, np.float32)[-config.sequence_length:]
    if window.shape != (config.sequence_length, config.n_pitches):
        raise ValueError(f'primer must be at least {config.sequence_length} × {config.n_pitches}, '
                         f'got {np.shape(primer)}')
    rng = np.random.default_rng(seed)
    steps = []
    for _ in range(n_steps):
        batch = np.broadcast_to(window, (config.batch_size,) + window.shape)   # B × L × P
        probabilities = np.asarray(model.predict(np.ascontiguousarray(batch)))[0]
        cutoffs = np.full(config.n_pitches, threshold) if threshold is not None else rng.random(config.n_pitches)
        step = (probabilities > cutoffs).astype(np.uint8)
        steps.append(step)
        window = np.concatenate([window[1:], step[None].astype(np.float32)])
    return np.stack(steps)


def repetition_report(steps):
    """Distinct pitches sounding, note onsets, and whether the whole continuation is one repeated pitch."""
    steps = np.asarray(steps, bool)
    sounding = np.nonzero(steps.any(axis=0))[0]
    onsets = int((steps[1:] & ~steps[:-1]).sum() + steps[0].sum())
    return {'distinct_pitches': int(len(sounding)), 'onsets': onsets,
            'single_repeated_pitch': bool(len(sounding) <= 1)}
