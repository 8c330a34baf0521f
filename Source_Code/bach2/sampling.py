"""Stage 4 sampler: continue a primer with a trained model, compiled as one PyTensor scan.

Stage 3 trains on windows of SEQUENCE_LENGTH steps, each read from a zero
state (``targets='last'``), or on whole pieces with the state carried
(``targets='all'``). Two ways to continue a primer, each one compiled PyTensor scan run by
JAX (or PyTensor's C backend):

* ``context='window'`` (the default, and the journal's): every new step runs
  the network over the last SEQUENCE_LENGTH steps from a zero state — exactly
  the model that was trained;
* ``context='carry'``: the primer is read once and the LSTM state carried, so
  a new step costs one LSTM step (not a window) — SEQUENCE_LENGTH× less work;
  exactly the model that ``targets='all'`` trains, while a window-trained model
  has never seen a state older than its window and drifts after it.

Dropout is off in both (deterministic outputs).

Each input row is the primer's, then the step sampled before; with
``chord_input`` the chord tones of the step after it are appended, with
``metre_input`` that step's position in its bar (:mod:`bach2.music.metre`). The
output layer's logits z become:

* polyphonic: ``p = σ(z / temperature)``; a pitch sounds where ``p > cutoff``:
  cutoffs drawn uniform in (0, 1) are Bernoulli sampling, cutoffs of 0.5 the
  journal's threshold rule;
* monophonic: ``argmax(z / temperature + g)`` over P pitches and a rest; Gumbel
  noise g is sampling from the softmax, g = 0 the journal's argmax;
* ``lstm-nade``: pitch after pitch, low to high, each conditional compared
  with its cutoff (see :meth:`bach2.nn.nade.NADELayer.sample`); with ``articulation``
  the onsets follow the pitches, held only where the pitch sounded the step before.

A step is ``P`` columns, ``2P`` with ``articulation`` (sounding, then struck).
"""
import numpy as np
import pytensor
import pytensor.tensor as pt

from bach2.music.metre import metre_features
from bach2.nn import layers
from bach2.rnn_model import FUSED, build_network, compile_function

#: Draws of each step among which ``continue_piece(fill=True)`` looks for one that sounds every voice allowed.
FILL_DRAWS = 32


def decision_noise(mode, rule, n_rows, n_outputs, rng):
    """``n_rows × n_outputs`` float32 noise that makes :class:`Sampler` follow ``rule``.

    'sample' (polyphonic: uniform cutoffs; monophonic: Gumbel noise), 'threshold' (polyphonic, cutoffs 0.5),
    'argmax' (monophonic, no noise).
    """
    if rule == 'sample':
        uniform = rng.uniform(1e-7, 1 - 1e-7, size=(n_rows, n_outputs))
        return (uniform if mode == 'polyphonic' else -np.log(-np.log(uniform))).astype(np.float32)
    if (rule, mode) == ('threshold', 'polyphonic'):
        return np.full((n_rows, n_outputs), 0.5, np.float32)
    if (rule, mode) == ('argmax', 'monophonic'):
        return np.zeros((n_rows, n_outputs), np.float32)
    raise ValueError(f"rule {rule!r} does not apply to the {mode} model (polyphonic: 'sample' or 'threshold'; "
                     f"monophonic: 'sample' or 'argmax')")


class Sampler:
    """A compiled sampler for the parameters ``state`` ({name: array}, from a checkpoint) of ``config``.

    :meth:`continue_piece` → (``n_steps × W`` uint8 steps, ``n_steps × n_outputs`` probabilities), W the
    model's ``step_width`` (P, or 2P with articulation).
    """

    def __init__(self, config, state, backend='jax'):
        self.config, self.backend = config, backend
        self.network = build_network(config, batch_size=1, fused=FUSED[backend])
        params = layers.get_all_params(self.network, trainable=True)   # initial states stay at their constants
        missing = sorted(p.name for p in params if p.name not in state)
        if missing:
            raise ValueError(f'the checkpoint lacks parameters {missing}')
        for param in params:
            param.set_value(np.asarray(state[param.name], np.float32))
        self.lstms = [layer for layer in layers.get_all_layers(self.network) if isinstance(layer, layers.LSTMLayer)]
        self.n_extra = config.n_inputs - config.step_width     # chord tones and metre appended to each row
        self._compiled = {}       # (context, scan length, draws) → compiled function (JAX needs static shapes)

    def _decide(self, hidden, noise_t, temperature, last_row, limit_t, draws):
        """Last LSTM layer's output (1 × n), the last input row, the most pitches that may sound
        (``limit_t``, lstm-nade only) and the noise of ``draws`` draws (``draws · n_outputs``) → (chosen step W
        float32, probabilities n_outputs)."""
        if self.config.model == 'lstm-nade':
            previous = last_row[:self.config.n_pitches] if self.config.articulation else None
            cutoffs = noise_t.reshape((draws, self.config.n_outputs)) if draws > 1 else noise_t
            return self.network.sample(hidden, cutoffs, temperature, previous, max_notes=limit_t)
        logits = (pt.dot(hidden, self.network.W) + self.network.b)[0] / temperature
        if self.config.mode == 'monophonic':
            perturbed = logits + noise_t
            chosen = pt.ge(perturbed, perturbed.max())[:self.config.n_pitches]      # the rest (index P): silence
            return chosen.astype('float32'), pt.special.softmax(logits)
        probabilities = pt.sigmoid(logits)
        return pt.gt(probabilities, noise_t).astype('float32'), probabilities

    def _input_row(self, step, extra_t):
        """Chosen step (W) → the 1 × n_inputs input row (``extra_t``, chord tones and metre, appended)."""
        row = step[None, :]
        return pt.concatenate([row, extra_t[None, :self.n_extra]], axis=1) if self.n_extra else row

    def _extra_columns(self, chords, positions, total):
        """The ``total × max(1, n_extra)`` columns appended to the input rows: row r holds what
        describes step r + 1 — its chord tones (``chords[r]``), then its metre (``positions[r + 1]``)."""
        columns = [chords] if self.config.chord_input else []
        if self.config.metre_input:
            if positions is None:
                raise ValueError('this model reads the position in the bar: give the positions of the primer '
                                 'and of the new steps (bach2.music.metre)')
            positions = np.asarray(positions)
            if positions.shape != (total + 1, 2):
                raise ValueError(f'positions must be {total + 1} × 2 (primer + n_steps rows), got {positions.shape}')
            columns.append(metre_features(positions[1:]))
        return np.concatenate(columns, axis=1).astype(np.float32) if columns else np.zeros((total, 1), np.float32)

    def _build_carry(self, total, draws):
        """Scan over ``total`` rows (primer, then sampled) carrying every LSTM layer's (cell, hidden)."""
        config = self.config
        primer = pt.tensor('primer', dtype='float32', shape=(total, config.step_width))  # read while is_primer
        is_primer = pt.tensor('is_primer', dtype='float32', shape=(total,))
        extra = pt.tensor('extra', dtype='float32', shape=(total, max(1, self.n_extra)))
        noise = pt.tensor('noise', dtype='float32', shape=(total, draws * config.n_outputs))
        limit = pt.tensor('limit', dtype='float32', shape=(total,))
        temperature = pt.scalar('temperature', dtype='float32')

        def step(primer_t, is_primer_t, extra_t, noise_t, limit_t, previous, *state_t):
            read = pt.switch(is_primer_t, primer_t, previous)
            row = self._input_row(read, extra_t)
            new_state = []
            for k, lstm in enumerate(self.lstms):
                cell, row = lstm.get_step_output(row, state_t[2 * k], state_t[2 * k + 1])
                new_state += [cell, row]
            chosen, probabilities = self._decide(row, noise_t, temperature, read, limit_t, draws)
            return [chosen] + new_state + [probabilities]

        initial = [pt.zeros((config.step_width,), dtype='float32')]
        for lstm in self.lstms:
            initial += [lstm.cell_init, lstm.hid_init]                                   # (1, n) each
        outputs = pytensor.scan(step, sequences=[primer, is_primer, extra, noise, limit],
                                outputs_info=initial + [None], n_steps=total, return_updates=False)
        return compile_function([primer, is_primer, extra, noise, limit, temperature], [outputs[0], outputs[-1]],
                                self.backend, FUSED[self.backend], on_unused_input='ignore')

    def _build_window(self, n_steps, draws):
        """Scan over ``n_steps``, each running the network over the last SEQUENCE_LENGTH rows from a zero state."""
        config = self.config
        window = pt.tensor('window', dtype='float32', shape=(config.sequence_length, config.n_inputs))
        extra = pt.tensor('extra', dtype='float32', shape=(n_steps, max(1, self.n_extra)))   # see _extra_columns
        noise = pt.tensor('noise', dtype='float32', shape=(n_steps, draws * config.n_outputs))
        limit = pt.tensor('limit', dtype='float32', shape=(n_steps,))
        temperature = pt.scalar('temperature', dtype='float32')
        last_lstm = self.lstms[-1]

        def step(extra_t, noise_t, limit_t, window_t):
            hidden = layers.get_output(last_lstm, window_t[None], deterministic=True)[:, -1]   # 1 × n (final step)
            chosen, probabilities = self._decide(hidden, noise_t, temperature, window_t[-1], limit_t, draws)
            return pt.concatenate([window_t[1:], self._input_row(chosen, extra_t)]), chosen, probabilities

        outputs = pytensor.scan(step, sequences=[extra, noise, limit], outputs_info=[window, None, None],
                                n_steps=n_steps, return_updates=False)
        return compile_function([window, extra, noise, limit, temperature], outputs[1:], self.backend,
                                FUSED[self.backend],
                                on_unused_input='ignore')     # a 1-step run never reads the next columns

    def _function(self, context, length, draws):
        if (context, length, draws) not in self._compiled:
            build = self._build_window if context == 'window' else self._build_carry
            self._compiled[context, length, draws] = build(length, draws)
        return self._compiled[context, length, draws]

    def continue_piece(self, primer, n_steps, rule='sample', seed=0, temperature=1.0, chords=None,
                       context='window', positions=None, given=None, max_notes=None, fill=False):
        """Primer ``L × W`` (L ≥ 1; W = P, or 2P with articulation) → the next ``n_steps`` steps and their
        probabilities.

        ``rule``: see :func:`decision_noise`; ``seed`` seeds its noise. ``chords``:
        ``(L + n_steps − 1) × 12`` chord tones of the step after each input row
        (only read with ``chord_input``; None = no chord). ``positions``: ``(L + n_steps) × 2`` bar
        positions of the primer's steps and the new ones (:mod:`bach2.music.metre`; needed, and only read,
        with ``metre_input``). ``context``:
        'window' — every step reads the last SEQUENCE_LENGTH steps from a zero
        state, exactly as the model was trained (and as the journal sampled);
        'carry' — the state is carried, one LSTM step per new step (≈ SEQUENCE_LENGTH×
        faster, but a window-trained model drifts once the context outgrows its windows).
        ``given`` (``n_steps × W`` int8: 1 on, 0 off, −1 the model's choice) fixes units of the new
        steps (polyphonic models); ``max_notes`` (``n_steps`` ints, lstm-nade) caps the pitches sounding
        in each new step, given ones included (see :meth:`bach2.nn.nade.NADELayer.sample`); with ``fill``
        each new step is drawn :data:`FILL_DRAWS` times and the first draw that sounds ``max_notes`` pitches
        is kept (the fullest where none does): every voice the cap allows sounds, as in Bach's textures.
        Four options (``rule``, ``seed``, ``temperature``, ``context``) and four per-step arrays: the keyword
        arguments every caller since the journal's sampler passes, kept flat for that reason.
        """
        primer = np.asarray(primer, np.float32)
        config = self.config
        if primer.ndim != 2 or primer.shape[1] != config.step_width or len(primer) < 1:
            raise ValueError(f'primer must be L × {config.step_width} with L ≥ 1, got {primer.shape}')
        if n_steps < 1:
            raise ValueError(f'n_steps must be positive, not {n_steps}')
        if not temperature > 0:
            raise ValueError(f'temperature must be positive, not {temperature}')
        if context not in ('window', 'carry'):
            raise ValueError(f"context must be 'window' or 'carry', not {context!r}")
        n_primer = len(primer)
        total = n_primer + n_steps - 1
        chords = np.zeros((total, 12), np.float32) if chords is None else np.asarray(chords, np.float32)
        if chords.shape != (total, 12):
            raise ValueError(f'chords must be {total} × 12 (primer + n_steps − 1 rows), got {chords.shape}')
        extra = self._extra_columns(chords, positions, total)
        limit = self._limits(max_notes, n_steps)
        if fill and max_notes is None:
            raise ValueError('fill needs max_notes: the number of pitches each step should sound')
        draws = FILL_DRAWS if fill else 1
        rng = np.random.default_rng(seed)
        if context == 'carry':
            noise = decision_noise(config.mode, rule, total, draws * config.n_outputs, rng)
            noise[n_primer - 1:] = self._give(noise[n_primer - 1:], given)
            limit = np.concatenate([np.zeros(n_primer - 1, np.float32), limit])
            rows = np.zeros((total, config.step_width), np.float32)
            rows[:n_primer] = primer
            is_primer = (np.arange(total) < n_primer).astype(np.float32)
            steps, probabilities = self._function('carry', total, draws)(rows, is_primer, extra, noise, limit,
                                                                  np.float32(temperature))
            first = n_primer - 1            # the prediction made after reading the primer's last row
            steps, probabilities = steps[first:], probabilities[first:]
        else:
            L = config.sequence_length
            inputs = np.concatenate([primer, extra[:n_primer, :self.n_extra]], axis=1)
            window = np.zeros((L, config.n_inputs), np.float32)        # silence before a short primer
            window[-min(L, n_primer):] = inputs[-L:]
            later = np.concatenate([extra[n_primer:], np.zeros((1, extra.shape[1]), np.float32)])
            noise = self._give(decision_noise(config.mode, rule, n_steps, draws * config.n_outputs, rng), given)
            steps, probabilities = self._function('window', n_steps, draws)(window, later, noise, limit,
                                                                     np.float32(temperature))
        return np.asarray(steps, np.uint8), np.asarray(probabilities)


    def _give(self, noise, given):
        """Noise ``n_steps × (draws · W)`` with the ``given`` units (``n_steps × W``) fixed in every draw: a cutoff
        of −1 keeps a unit on, 2 keeps it off."""
        if given is None:
            return noise
        given = np.asarray(given)
        width = self.config.n_outputs
        if self.config.mode != 'polyphonic' or given.shape != (len(noise), width):
            raise ValueError(f'given units need a polyphonic model and {len(noise)} × {width} values, '
                             f'got {given.shape} for a {self.config.mode} model')
        draws = noise.reshape(len(noise), -1, width)
        fixed = np.where(given[:, None] == 1, np.float32(-1), np.where(given[:, None] == 0, np.float32(2), draws))
        return fixed.reshape(noise.shape).astype(np.float32)

    def _limits(self, max_notes, n_steps):
        """``n_steps`` float32 caps on the pitches sounding (P: none)."""
        if max_notes is None:
            return np.full(n_steps, self.config.n_pitches, np.float32)
        if self.config.model != 'lstm-nade' or np.shape(max_notes) != (n_steps,):
            raise ValueError(f'max_notes needs an lstm-nade model and {n_steps} values')
        return np.asarray(max_notes, np.float32)


def repetition_report(steps, struck=None):
    """Distinct pitches sounding, note onsets (a pitch starting to sound, or ``struck``, ``T × P``, where
    given), and whether the whole continuation is one repeated pitch."""
    steps = np.asarray(steps, bool)
    sounding = np.nonzero(steps.any(axis=0))[0]
    starts = np.concatenate([steps[:1], steps[1:] & ~steps[:-1]])
    onsets = int((starts | (steps & (np.asarray(struck) > 0)) if struck is not None else starts).sum())
    return {'distinct_pitches': int(len(sounding)), 'onsets': onsets,
            'single_repeated_pitch': bool(len(sounding) <= 1)}


def longest_single_pitch_run(steps):
    """Longest stretch in which one pitch sounds alone, held or struck again → (steps, column or None).

    The stretch runs from the first to the last step of that pitch; silent steps
    inside it do not break it, a step with any other pitch does. Spanning the
    whole continuation, it is the journal's collapse ("a single repeated pitch").
    """
    steps = np.asarray(steps, bool)
    best, best_pitch, pitch, start = 0, None, None, 0
    for t, row in enumerate(steps):
        sounding = np.flatnonzero(row)
        if not len(sounding):
            continue
        if len(sounding) > 1:
            pitch = None
            continue
        if sounding[0] != pitch:
            pitch, start = int(sounding[0]), t
        if t - start + 1 > best:
            best, best_pitch = t - start + 1, pitch
    return best, best_pitch
