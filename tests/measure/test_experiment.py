"""bach2.measure.experiment and experiments/run_experiment.py: every config resolves in both settings, overrides are
checked, and one experiment runs end to end on a tiny test-made corpus (N = 8, a few batches)."""
import importlib.util
import json
from pathlib import Path

import pytest

from bach2.data.prepare import prepare_training_data
from bach2.measure.experiment import SETTINGS, collapse_flags, load_config, parse_overrides, resolve_runs
from bach2.models.model_config import ModelConfig
from bach2.train import TrainConfig
from midi_builders import write_random_corpus

EXPERIMENTS = Path(__file__).resolve().parents[2] / 'experiments'
CONFIGS = sorted(EXPERIMENTS.glob('*.json'))


def test_there_is_one_config_per_journal_run():
    assert [path.stem for path in CONFIGS] == ['bass_line_N768', 'first_4800_steps', 'first_4_bars',
                                               'grad_clipping']


@pytest.mark.parametrize('setting', SETTINGS)
@pytest.mark.parametrize('path', CONFIGS, ids=lambda path: path.stem)
def test_every_config_builds_valid_model_and_train_configs(path, setting):
    runs = resolve_runs(load_config(path), setting, 'data', 'out')
    assert runs
    for run in runs:
        assert isinstance(run.model_config, ModelConfig) and isinstance(run.train_config, TrainConfig)
        assert run.train_config.out_dir == str(Path('out') / run.name / 'checkpoints')
        assert run.model_config.n_hidden == (768 if setting == 'full' else 128)
        assert run.generate['rules'][0] in ('threshold', 'argmax')       # the journal's rule first


def test_full_settings_carry_the_journals_sizes():
    full = {path.stem: resolve_runs(load_config(path), 'full') for path in CONFIGS}
    (bass,) = full['bass_line_N768']
    assert bass.model_config.mode == 'monophonic' and bass.train_config.epochs == 180
    (bars,) = full['first_4_bars']
    assert bars.train_config.piece_steps == 64 and bars.train_config.epochs == 311
    (cut,) = full['first_4800_steps']
    assert cut.train_config.max_steps == 4800 and cut.model_config.sequence_length == 16
    clips = {run.name: run.model_config for run in full['grad_clipping']}
    assert {name: config.grad_clipping for name, config in clips.items()} == {'clip1000': 1000, 'clip10': 10}
    assert all(config.n_layers == 2 for config in clips.values())


def test_unknown_settings_and_bad_overrides_are_refused_by_name():
    config = load_config(EXPERIMENTS / 'first_4_bars.json')
    with pytest.raises(ValueError, match="did you mean 'max_batches'"):
        resolve_runs(config, 'quick', overrides=['train.max_batch=3'])
    with pytest.raises(ValueError, match='SECTION.KEY=VALUE'):
        parse_overrides(['epochs=3'])
    assert parse_overrides(['train.transpositions=[0, 1]', 'generate.primer=bwv1_x'])['train'] == {
        'transpositions': [0, 1]}
    with pytest.raises(ValueError, match='n_hidden must be positive'):
        resolve_runs(config, 'full', overrides=['model.n_hidden=0'])


def test_collapse_is_one_pitch_for_half_the_piece_and_near_silence_is_under_a_note_a_bar():
    piece = dict(steps=128, notes=1, distinct_pitches=1, longest_single_pitch_run=1)
    assert collapse_flags(piece) == {'single_repeated_pitch': False, 'near_silent': True}
    piece.update(notes=30, longest_single_pitch_run=64)
    assert collapse_flags(piece) == {'single_repeated_pitch': True, 'near_silent': False}
    piece.update(distinct_pitches=2)
    assert not collapse_flags(piece)['single_repeated_pitch']


def load_runner(name='run_experiment'):
    """experiments/NAME.py as a module."""
    spec = importlib.util.spec_from_file_location(name, EXPERIMENTS / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_experiment_runs_end_to_end_and_writes_its_measurements(tmp_path):
    data = tmp_path / 'data'
    prepare_training_data(write_random_corpus(tmp_path / 'midi'), data, progress=False, processes=1)
    out = tmp_path / 'out'
    tiny = ['model.n_layers=1', 'model.n_hidden=8', 'model.sequence_length=8', 'model.batch_size=4',
            'train.max_steps=100', 'train.epochs=2', 'train.max_batches=3', 'train.valid_fraction=0.3',
            'generate.n_steps=12']
    argv = ['first_4800_steps', '--data', str(data), '--out', str(out), '--no-progress']
    assert load_runner().main(argv + [item for setting in tiny for item in ('--set', setting)]) == 0
    results = json.loads((out / 'results.json').read_text())
    assert results['experiment'] == 'first_4800_steps' and results['setting'] == 'quick'
    assert results['command'].startswith('python experiments/run_experiment.py first_4800_steps')
    run = results['runs']['run']
    # 6 random pieces of 64 steps, 2 held out; the first 100 training steps = one piece of 64 and 36 of the next
    assert run['data']['train_steps'] == 100 and run['data']['train_pieces'] == 2
    assert run['data']['data_size'] == (64 - 8) + (36 - 8) and run['data']['data_size_journal'] == 100 - 8
    training = run['training']
    assert training['epochs'] == 2 and training['batches'] == 6 and len(training['train_cost']) == 2
    assert training['final_valid_nll_per_frame'] == training['valid_nll_per_frame'][-1] > 0
    assert set(run['baselines_valid_nll_per_frame']) == {'unigram', 'repeat'}
    assert [piece['file'] for piece in run['pieces']] == ['fugue_N8epoch2.mid', 'fugue_N8epoch2_sample.mid']
    for piece in run['pieces']:
        assert piece['steps'] == 12 and 0 <= piece['longest_single_pitch_run'] <= 12
        assert piece['single_repeated_pitch'] == (piece['distinct_pitches'] == 1
                                                  and piece['longest_single_pitch_run'] >= 6)
        assert piece['near_silent'] == (piece['notes'] < 12 / 16)
        assert (out / 'run' / piece['file']).stat().st_size > 0
    assert isinstance(run['collapse_with_journal_rule'], bool)
    for name in ('loss_curves.png', 'run/training_curve.png', 'run/training_log.csv'):
        assert (out / name).stat().st_size > 0
    assert (out / 'run' / 'checkpoints' / 'lstm_polyphonic_N8_1layers.npz').exists()


def test_a_stopped_experiment_resumes_where_its_checkpoint_left_it(tmp_path):
    data = tmp_path / 'data'
    prepare_training_data(write_random_corpus(tmp_path / 'midi'), data, progress=False, processes=1)
    tiny = ['model.n_layers=1', 'model.n_hidden=8', 'model.sequence_length=8', 'model.batch_size=4',
            'train.max_batches=3', 'train.valid_fraction=0.3', 'generate.n_steps=12']
    runner = load_runner()
    outs = {}
    for name, steps in (('straight', [['train.epochs=2']]), ('resumed', [['train.epochs=1'], ['train.epochs=2']])):
        outs[name] = tmp_path / name
        for k, extra in enumerate(steps):           # the resumed run stops after one epoch, then goes on
            argv = ['first_4800_steps', '--data', str(data), '--out', str(outs[name]), '--no-progress']
            argv += [item for setting in tiny + extra for item in ('--set', setting)] + (['--resume'] if k else [])
            assert runner.main(argv) == 0
    straight, resumed = (json.loads((outs[name] / 'results.json').read_text())['runs']['run']['training']
                         for name in ('straight', 'resumed'))
    assert resumed['epochs'] == straight['epochs'] == 2 and resumed['batches'] == 6
    assert resumed['train_cost'] == pytest.approx(straight['train_cost'], rel=1e-5)


def test_the_full_runs_are_timed_and_projected_then_run_in_sequence_with_resume(tmp_path):
    data = tmp_path / 'data'
    prepare_training_data(write_random_corpus(tmp_path / 'midi'), data, progress=False, processes=1)
    tiny = ['model.n_layers=1', 'model.n_hidden=8', 'model.sequence_length=8', 'model.batch_size=4',
            'train.valid_fraction=0.3', 'train.transpositions=[0]', 'generate.n_steps=12']
    runner = load_runner('run_all_full')
    common = ['--data', str(data), '--device', 'cpu', '--no-progress']
    common += [item for setting in tiny for item in ('--set', setting)]
    timing = tmp_path / 'timing'
    assert runner.main(common + ['--time', '2', '--only', 'first_4800_steps', 'grad_clipping',
                                 '--out', str(timing)]) == 0
    rows = json.loads((timing / 'timing.json').read_text())['rows']
    assert [(row['config'], row['variant']) for row in rows] == [('first_4800_steps', 'run'),
                                                                 ('grad_clipping', 'clip1000'),
                                                                 ('grad_clipping', 'clip10')]
    for row in rows:
        results = json.loads((timing / row['config'] / 'results.json').read_text())['runs'][row['variant']]
        assert results['training']['epochs'] == 2 and results['training']['batches'] == 4    # 2 epochs of 2
        assert row['batches_per_epoch'] == -(-results['data']['data_size'] // 4)             # the whole epoch
        assert row['epochs'] == 180 and row['seconds_per_batch'] > 0 and row['validation_seconds_per_epoch'] > 0
        assert row['projected_hours'] == pytest.approx(
            (row['seconds_per_batch'] * row['batches_per_epoch'] + row['validation_seconds_per_epoch']) * 180 / 3600,
            rel=0.01, abs=1e-4)
    runs = tmp_path / 'runs'
    small = ['--set', 'train.epochs=1', '--set', 'train.max_batches=2', '--only', 'first_4800_steps', 'first_4_bars',
             '--out', str(runs)]
    for _ in range(2):          # the second time each configuration resumes from its last epoch: nothing to train
        assert runner.main(common + small) == 0
        for name in ('first_4800_steps', 'first_4_bars'):
            results = json.loads((runs / name / 'results.json').read_text())
            assert results['setting'] == 'full' and results['runs']['run']['training']['batches'] == 2
    assert '--resume' in results['command']
