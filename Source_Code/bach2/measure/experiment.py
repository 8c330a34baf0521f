"""Reproduce a run of the 2016 journal from a small JSON config (``experiments/*.json``).

A config holds what the journal reported (``journal``), the journal's sizes in
``model`` / ``train`` / ``generate``, per-setting overrides (``settings.quick``:
a CPU in minutes; ``settings.full``: the journal's sizes, for a GPU) and
optionally ``variants``: runs that differ in one setting (GRAD_CLIPPING 1000 vs 10).
Layers apply in that order, then ``section.key=value`` overrides from the command line.

:func:`run_experiment` trains every variant (:func:`bach2.train.train`),
generates with :func:`bach2.compose.generate.generate_a_fugue` (named like the journal,
``fugue_N768epoch180``) and writes into ``out``::

    results.json                  settings, data sizes, losses, validation NLL, piece statistics, timings
    loss_curves.png               batch cost and validation NLL per epoch of every variant
    <variant>/training_log.csv    train's CSV and curve, copied out of <variant>/checkpoints/
    <variant>/training_curve.png
    <variant>/fugue_*.mid|.png|.p the generated pieces
    <variant>/checkpoints/        checkpoints (large: keep them out of git)
"""
import dataclasses
import difflib
import json
import os
import pathlib
import platform
import re
import shutil
import time

import numpy as np

from bach2.compose.generate import GenerateConfig, generate_a_fugue
from bach2.data.training_set import prepared_geometry
from bach2.data.training_windows import journal_data_size
from bach2.measure.baselines import baseline_report
from bach2.models.checkpoints import checkpoint_path
from bach2.models.model_config import ModelConfig
from bach2.safe_io import atomic_path, save_png
from bach2.train import TrainConfig, train

SECTIONS = ('model', 'train', 'generate')
SETTINGS = ('quick', 'full')
#: What the runner generates after training; ``rules`` None = the journal's rule first, then sampling.
GENERATE_DEFAULTS = {'rules': None, 'n_steps': 256, 'primer': 'valid', 'seed': 0, 'count': 1,
                     'temperature': 1.0, 'context': 'window'}
JOURNAL_RULES = {'polyphonic': ['threshold', 'sample'], 'monophonic': ['argmax', 'sample']}
RUN_FIELDS = ('data_dir', 'out_dir')        # TrainConfig fields the runner sets, never a config


@dataclasses.dataclass
class Run:
    """One variant of an experiment, resolved: its name, model and training configs, generation settings."""
    name: str
    model_config: ModelConfig
    train_config: TrainConfig
    generate: dict


def load_config(path):
    """``experiments/NAME.json`` → dict; ValueError naming the file when it is not a valid config."""
    path = pathlib.Path(path)
    try:
        config = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f'{path}: not a readable experiment config ({error})') from None
    unknown = set(config) - {'name', 'journal', 'notes', 'settings', 'variants', *SECTIONS}
    if unknown:
        raise ValueError(f'{path}: unknown top-level keys {sorted(unknown)}')
    missing = [setting for setting in SETTINGS if setting not in config.get('settings', {})]
    if missing:
        raise ValueError(f'{path}: no settings for {missing} (each config has "quick" and "full")')
    return config


def _fields(section):
    if section == 'model':
        return [field.name for field in dataclasses.fields(ModelConfig)]
    if section == 'train':
        return [field.name for field in dataclasses.fields(TrainConfig) if field.name not in RUN_FIELDS]
    return list(GENERATE_DEFAULTS)


def _check_keys(section, values, where):
    allowed = _fields(section)
    for key in values:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            raise ValueError(f'{where}: unknown {section} setting {key!r}'
                             + (f'; did you mean {close[0]!r}?' if close else f' (known: {", ".join(allowed)})'))


def parse_overrides(overrides):
    """['train.max_batches=2', 'model.n_hidden=8'] → {section: {key: value}}; values read as JSON, else text."""
    parsed = {section: {} for section in SECTIONS}
    for text in overrides:
        match = re.fullmatch(r'(\w+)\.(\w+)=(.*)', text)
        if not match or match.group(1) not in SECTIONS:
            raise ValueError(f'override {text!r}: expected SECTION.KEY=VALUE with SECTION one of {SECTIONS}')
        section, key, value = match.groups()
        try:
            parsed[section][key] = json.loads(value)
        except json.JSONDecodeError:
            parsed[section][key] = value
    return parsed


def _transpositions(value):
    return tuple(range(12)) if value == 'all' else tuple(int(k) for k in value)


def resolve_runs(config, setting, data_dir='training_data', out_dir='.', overrides=(), geometry=None):
    """Config dict + setting → [:class:`Run`], one per variant (one named 'run' without variants).

    ``geometry``: (step_ticks, n_pitches, lowest_pitch) of the prepared data (None: the defaults).
    """
    if setting not in SETTINGS:
        raise ValueError(f'setting must be one of {SETTINGS}, not {setting!r}')
    name = config.get('name', 'experiment')
    layers = [(name, config), (f'{name} settings.{setting}', config['settings'][setting])]
    variants = config.get('variants') or {'run': {}}
    runs = []
    for variant, changes in variants.items():
        merged = {section: {} for section in SECTIONS}
        for where, layer in layers + [(f'{name} variants.{variant}', changes),
                                      ('command line', parse_overrides(overrides))]:
            for section in SECTIONS:
                _check_keys(section, layer.get(section, {}), where)
                merged[section].update(layer.get(section, {}))
        model, train = merged['model'], merged['train']
        if geometry is not None:
            train['step_ticks'], model['n_pitches'], model['lowest_pitch'] = geometry
        for key in ('transpositions', 'valid_transpositions'):
            if key in train:
                train[key] = _transpositions(train[key])
        generate = {**GENERATE_DEFAULTS, **merged['generate']}
        model_config = ModelConfig(**model)
        generate['rules'] = list(generate['rules'] or JOURNAL_RULES[model_config.mode])
        run_out = pathlib.Path(out_dir) / variant
        train_config = TrainConfig(data_dir=str(data_dir), out_dir=str(run_out / 'checkpoints'), **train)
        runs.append(Run(variant, model_config, train_config, generate))
    return runs


def machine():
    """A line naming the machine the numbers come from."""
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    return (f'{platform.machine()} {platform.processor() or platform.system()}, {os.cpu_count()} cores, '
            f'Python {platform.python_version()}, load average {load:.1f} at start')


def data_report(trainer):
    """Sizes of the training and validation data as trained: rows, pieces, windows ours and the journal's (or
    frames, every step a target), validation frames (each predicted from its piece's whole past)."""
    L = trainer.model_config.sequence_length
    train_set = trainer.train_set
    report = {'train_pieces': len(train_set.names), 'train_steps': int(train_set.n_steps),
              'data_size': int(len(trainer.train_windows[2])) if trainer.train_windows else
              int(train_set.n_steps - len(train_set.names)),
              'data_size_journal': journal_data_size(train_set.n_steps, L),
              'first_train_pieces': train_set.names[:5]}
    if trainer.valid_set is not None:
        report['valid_pieces'] = len(trainer.valid_set.names)
        report['valid_frames'] = int(trainer.valid_set.n_steps - len(trainer.valid_set.names))
    return report


def primer_name(spec, trainer):
    """'valid' → the first validation piece (its name in ``sh0``), else ``spec`` unchanged ('random' without one)."""
    if spec != 'valid':
        return spec
    if trainer.valid_set is None or not trainer.valid_set.names:
        return 'random'
    return re.sub(r'_sh\d+$', '', trainer.valid_set.names[0])


def generate_pieces(run, trainer, history, out, log=print):
    """Generate ``count`` pieces per rule into ``out`` → [piece dict: file, rule, seed, statistics]."""
    settings = run.generate
    checkpoint = checkpoint_path(run.train_config, run.model_config)
    stem = f'fugue_N{run.model_config.n_hidden}epoch{len(history)}'
    pieces, sampler = [], None
    for r, rule in enumerate(settings['rules']):
        for k in range(settings['count']):
            seed = settings['seed'] + k
            name = stem + (f'_{rule}' if r else '') + (f'_seed{seed}' if seed else '')
            config = GenerateConfig(checkpoint=str(checkpoint), data_dir=run.train_config.data_dir, out_dir=str(out),
                                    primer=primer_name(settings['primer'], trainer), n_steps=settings['n_steps'],
                                    seed=seed, rule=rule, temperature=settings['temperature'],
                                    context=settings['context'], backend=run.train_config.backend, name=name)
            started = time.perf_counter()
            result = generate_a_fugue(config, sampler=sampler, log=log)
            sampler = result['sampler']
            report = result['report']
            pieces.append({'file': f'{name}.mid', 'rule': rule, 'seed': seed, 'primer': config.primer,
                           'seconds': round(time.perf_counter() - started, 2),
                           **{key: report[key] for key in ('steps', 'notes', 'onsets', 'distinct_pitches',
                                                           'longest_single_pitch_run', 'key_written')},
                           **collapse_flags(report)})
    return pieces


def collapse_flags(report):
    """The journal's collapse — one pitch, held or repeated, for at least half the continuation — and near silence
    (fewer notes than bars of 16 steps), from a piece's report."""
    steps = report['steps']
    return {'single_repeated_pitch': report['distinct_pitches'] == 1
            and report['longest_single_pitch_run'] >= steps / 2,
            'near_silent': report['notes'] < steps / 16}


def train_report(history, seconds):
    """Loss curve and validation NLL per frame from train's history (one row per epoch)."""
    rows = [row for row in history if 'train_cost' in row]
    nlls = [row.get('valid_nll_per_frame') for row in rows]
    known = [nll for nll in nlls if nll is not None]
    return {'epochs': len(rows), 'batches': sum(len(row['batch_costs']) for row in rows),
            'train_cost': [round(row['train_cost'], 5) for row in rows],
            'valid_nll_per_frame': [None if nll is None else round(nll, 4) for nll in nlls],
            'final_valid_nll_per_frame': round(known[-1], 4) if known else None,
            'best_valid_nll_per_frame': round(min(known), 4) if known else None,
            'seconds': round(seconds, 1),
            **({'gate_gradient_max': [row['gate_gradient_max'] for row in rows]}      # per epoch, per layer
               if rows and 'gate_gradient_max' in rows[0] else {})}


def run_variant(run, out, progress=True, log=print, resume=False):
    """Train and generate one variant into ``out`` → its entry of results.json (with the history for plots).
    ``resume``: continue from the variant's checkpoint where it has one (a run stopped at the end of an epoch,
    by Ctrl-C, or killed: the last epoch's checkpoint), else start afresh."""
    started = time.perf_counter()
    resumed = resume and checkpoint_path(run.train_config, run.model_config).exists()
    if resumed:
        log(f'{run.name}: resuming from {checkpoint_path(run.train_config, run.model_config)}')
    trainer, history = train(run.model_config, run.train_config, resume=resumed, progress=progress, log=log)
    trained = time.perf_counter() - started
    trained_path = checkpoint_path(run.train_config, run.model_config)
    for suffix, name in (('.csv', 'training_log.csv'), ('.png', 'training_curve.png')):
        shutil.copyfile(trained_path.with_suffix(suffix), out / name)
    result = {'model_config': dataclasses.asdict(run.model_config),
              'train_config': dataclasses.asdict(run.train_config), 'generate': run.generate,
              'data': data_report(trainer), 'training': train_report(history, trained)}
    if trainer.valid_set is not None and run.model_config.mode == 'polyphonic':
        result['baselines_valid_nll_per_frame'] = {key: round(value, 4)
                                                   for key, value in baseline_report(trainer).items()}
    result['pieces'] = generate_pieces(run, trainer, history, out, log)
    journal_rule = run.generate['rules'][0]
    result['collapse_with_journal_rule'] = any(piece['single_repeated_pitch'] for piece in result['pieces']
                                               if piece['rule'] == journal_rule)
    result['collapse_any_rule'] = any(piece['single_repeated_pitch'] for piece in result['pieces'])
    return result, history


def plot_loss_curves(path, histories, title, smooth=20):
    """Batch cost (running mean of ``smooth`` batches) and validation NLL per epoch of each variant → PNG."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    figure, (cost_axis, nll_axis) = plt.subplots(1, 2, figsize=(8, 3.2))
    for name, history in histories.items():
        rows = [row for row in history if 'train_cost' in row]
        costs = np.concatenate([row['batch_costs'] for row in rows]) if rows else np.zeros(0)
        window = max(1, min(smooth, len(costs)))
        cost_axis.plot(np.convolve(costs, np.ones(window) / window, mode='valid'), label=name)
        nlls = [(row['epoch'] + 1, row['valid_nll_per_frame']) for row in rows if 'valid_nll_per_frame' in row]
        if nlls:
            nll_axis.plot(*zip(*nlls), 'o-', label=name)
    cost_axis.set(xlabel='batch', ylabel=f'training cost (mean of {smooth})', title=title)
    nll_axis.set(xlabel='epoch', ylabel='validation NLL per frame (nats)')
    for axis in (cost_axis, nll_axis):
        if axis.lines:
            axis.legend(fontsize=8)
    figure.tight_layout()
    save_png(figure, path, dpi=80)


@dataclasses.dataclass(frozen=True)
class Invocation:
    """How one experiment is run: which setting, on which prepared data, into which folder."""
    setting: str = 'quick'              # 'quick' (a CPU, minutes) or 'full' (the journal's sizes)
    data_dir: str = 'training_data'     # prepared data (bach2 prepare)
    out_dir: str = None                 # None = experiments/results/<name>_<setting>
    overrides: tuple = ()               # 'section.key=value' from the command line
    command: str = ''                   # the command line, recorded in results.json
    resume: bool = False                # each variant continues from its checkpoint in out_dir where there is one


def run_experiment(config_path, invocation=Invocation(), progress=True, log=print):
    """Train, generate and measure every variant of one experiment → the results dict (also ``results.json``)."""
    setting, data_dir, overrides = invocation.setting, invocation.data_dir, invocation.overrides
    config = load_config(config_path)
    name = config.get('name', pathlib.Path(config_path).stem)
    out = pathlib.Path(invocation.out_dir or pathlib.Path('experiments/results') / f'{name}_{setting}')
    runs = resolve_runs(config, setting, data_dir, out, overrides, geometry=prepared_geometry(data_dir))
    results = {'experiment': name, 'setting': setting, 'journal': config.get('journal', ''),
               'notes': config.get('notes', ''), 'command': invocation.command, 'data_dir': str(data_dir),
               'overrides': list(overrides), 'machine': machine(),
               'started': time.strftime('%Y-%m-%d %H:%M:%S'), 'runs': {}}
    started, histories = time.perf_counter(), {}
    for run in runs:
        log(f'{name} [{setting}] {run.name}: N = {run.model_config.n_hidden}, {run.model_config.n_layers} layer(s), '
            f'{run.train_config.epochs} epochs' + (f' × ≤ {run.train_config.max_batches} batches'
                                                    if run.train_config.max_batches else ''))
        variant_out = out / run.name
        variant_out.mkdir(parents=True, exist_ok=True)
        results['runs'][run.name], histories[run.name] = run_variant(run, variant_out, progress, log, invocation.resume)
    results['seconds'] = round(time.perf_counter() - started, 1)
    plot_loss_curves(out / 'loss_curves.png', histories, f'{name} ({setting})')
    with atomic_path(out / 'results.json') as temporary:
        pathlib.Path(temporary).write_text(json.dumps(results, indent=1) + '\n')
    log(f'results: {out / "results.json"}, loss curves: {out / "loss_curves.png"}')
    return results
