"""Every ``bach2`` command on bad input: one line on stderr, non-zero exit, no traceback, nothing overwritten.

The bad inputs: a missing path, an empty folder, a file that is not MIDI (or
not prepared data, or not a checkpoint), a piece shorter than SEQUENCE_LENGTH,
a nonsense option. Each run is a real ``python -m bach2.app.cli`` subprocess in a
folder that already holds files where the command would write (training data,
a checkpoint, a generated piece): afterwards every file there keeps its bytes
and modification time, and no file was added (no temporary file either).

Progress bars (tqdm, on stderr) are not answers: lines that are bar updates are
left out before counting. Pieces shorter than SEQUENCE_LENGTH are bad input only
where a window is needed (train, journey); ``prepare`` and ``inspect`` know no
SEQUENCE_LENGTH, and ``generate`` puts silence before a short primer, as the
sampler documents — :func:`test_short_pieces_are_fine_where_no_window_is_needed`.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bach2.data.prepare import prepare_training_data
from bach2.models.checkpoints import checkpoint_path
from bach2.models.model_config import ModelConfig
from bach2.train import TrainConfig, train
from midi_builders import write_random_corpus

ROOT = Path(__file__).resolve().parents[1]
PROGRESS_BAR = re.compile(r'^[^|]*: *\d+%\|')          # 'stage 0: MIDI → time series:  50%|█████ …'
NOT_MIDI = 'not a MIDI file (it does not start with the MThd header)'
CHECKPOINT = 'lstm_polyphonic_N8_1layers.npz'
TINY = ['--layers', '1', '--hidden', '8', '--sequence-length', '8', '--batch-size', '4', '--transpositions', '0']


@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
    """{name: path} of the good and bad inputs, built once (read-only for the tests)."""
    root = tmp_path_factory.mktemp('inputs')
    paths = {'missing': root / 'missing', 'empty': root / 'empty', 'not_midi_folder': root / 'not_midi',
             'short_midi': write_random_corpus(root / 'short_midi', n_pieces=2, bars=1),   # 16 steps each
             'midi': write_random_corpus(root / 'midi')}                                  # 64 steps each
    paths['empty'].mkdir()
    paths['not_midi_folder'].mkdir()
    paths['not_midi'] = paths['not_midi_folder'] / 'notes.mid'
    paths['not_midi'].write_text('not MIDI at all\n')
    paths['short_piece'] = paths['short_midi'] / 'bwv1_x.mid'
    for name, source in (('prepared', 'midi'), ('short_prepared', 'short_midi')):
        paths[name] = root / name
        prepare_training_data(paths[source], paths[name], progress=False, processes=1)
    paths['corrupt_prepared'] = root / 'corrupt_prepared'
    shutil.copytree(paths['prepared'], paths['corrupt_prepared'])
    (paths['corrupt_prepared'] / 'pitch_matrix_24ticks_sh0.npz').write_bytes(b'PK\x03\x04 cut short')
    model_config = ModelConfig(n_layers=1, n_hidden=8, sequence_length=8, batch_size=4)
    train_config = TrainConfig(str(paths['prepared']), str(root / 'ck'), epochs=1, transpositions=(0,),
                               max_batches=2, valid_fraction=0.3)
    train(model_config, train_config, progress=False, log=lambda line: None)
    paths['ck'] = checkpoint_path(train_config, model_config)
    return paths


def existing_outputs(folder):
    """Files where the commands write, already there: {name: path} (fugue_N8epoch1 is generate's stem)."""
    files = {'out': folder / 'out' / 'manifest.json', 'checkpoints': folder / 'checkpoints' / CHECKPOINT,
             'fugues': folder / 'fugues' / 'fugue_N8epoch1.mid'}
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b'written earlier: must survive\n')
    return {name: path.parent for name, path in files.items()}


def snapshot(*folders):
    """{path: (bytes, mtime in ns)} of every file under ``folders``."""
    return {path: (path.read_bytes(), path.stat().st_mtime_ns)
            for folder in folders for path in sorted(Path(folder).rglob('*')) if path.is_file()}


def bach2(args, cwd):
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT / 'Source_Code'), os.environ.get('PYTHONPATH', '')])}
    return subprocess.run([sys.executable, '-m', 'bach2.app.cli', *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def answer_lines(stderr):
    return [line for line in re.split(r'[\r\n]', stderr) if line.strip() and not PROGRESS_BAR.match(line)]


OUTS = ['--out', '{out}']
JOURNEY = ['journey', '--out', '{out}', '--checkpoints', '{checkpoints}', '--fugues', '{fugues}', '--jobs', '1',
           '--epochs', '1', '--max-batches', '1']
GENERATE = ['generate', '{ck}', '--data', '{prepared}', '--out', '{fugues}', '--steps', '4']
EVALUATE = ['--json', '{out}/manifest.json']            # a file that must survive
HARMONIZE = ['--out-dir', '{fugues}']
TRAIN = ['train', *TINY, '--out', '{checkpoints}', '--epochs', '1', '--max-batches', '1']

# (command line with {placeholders}, what the one line must say ({…} filled in the same way))
CASES = {
    'prepare-missing': (['prepare', '--data', '{missing}', *OUTS], '{missing}: no such folder'),
    'prepare-empty': (['prepare', '--data', '{empty}', *OUTS], '{empty}: no .mid or .midi files in this folder'),
    'prepare-not-midi': (['prepare', '--data', '{not_midi_folder}', *OUTS],
                         f'gave a usable piece (1 unreadable, 0 skipped; first: {{not_midi}}: {NOT_MIDI})'),
    'prepare-file-as-folder': (['prepare', '--data', '{not_midi}', *OUTS], '{not_midi}: not a folder'),
    'prepare-out-is-a-file': (['prepare', '--data', '{midi}', '--out', '{not_midi}/out', '--jobs', '1'],
                              '{not_midi}/out: Not a directory'),
    'prepare-nonsense-option': (['prepare', '--frobnicate', *OUTS],
                                'bach2 prepare: error: unrecognized arguments: --frobnicate (see bach2 prepare --help)'),
    'prepare-nonsense-value': (['prepare', '--transpose', 'd', *OUTS], "argument --transpose: invalid choice: 'd'"),
    'inspect-missing': (['inspect', '{missing}'], '{missing}: cannot open: No such file or directory'),
    'inspect-empty': (['inspect', '{empty}'], '{empty}: no .mid or .midi files in this folder'),
    'inspect-not-midi': (['inspect', '{not_midi}'], f'{{not_midi}}: {NOT_MIDI}'),
    'inspect-no-path': (['inspect'], 'bach2 inspect: error: the following arguments are required: PATH'),
    'inspect-nonsense-option': (['inspect', '--frobnicate', '{short_piece}'], 'unrecognized arguments: --frobnicate'),
    'train-missing': ([*TRAIN, '--data', '{missing}'], '{missing}: no such folder'),
    'train-empty': ([*TRAIN, '--data', '{empty}'], '{empty}: no pitch_matrix_<N>ticks_sh0.npz'),
    'train-file-as-folder': ([*TRAIN, '--data', '{not_midi}'], '{not_midi}: not a folder'),
    'train-not-prepared-data': ([*TRAIN, '--data', '{corrupt_prepared}'],
                                '{corrupt_prepared}/pitch_matrix_24ticks_sh0.npz: not readable prepared data'),
    'train-not-a-checkpoint': ([*TRAIN, '--data', '{prepared}', '--resume'],
                               f'{{checkpoints}}/{CHECKPOINT}: not a Bach2.0 checkpoint'),
    'train-short': ([*TRAIN, '--data', '{short_prepared}', '--sequence-length', '64'],
                    '{short_prepared}: no training window: every training piece is shorter than SEQUENCE_LENGTH + 1'),
    'train-nonsense-option': ([*TRAIN, '--frobnicate'], 'bach2 train: error: unrecognized arguments: --frobnicate'),
    'train-nonsense-value': ([*TRAIN, '--epochs', '0'], 'argument --epochs: must be a positive integer, not 0'),
    'train-growing-decay': ([*TRAIN, '--plateau-decay', '1.5'],
                            'argument --plateau-decay: must be above 0 and at most 1, not 1.5'),
    'train-monophonic-nade': ([*TRAIN, '--data', '{prepared}', '--mode', 'monophonic', '--model', 'lstm-nade'],
                              'bach2 train: error: the lstm-nade model is polyphonic'),
    'train-nonsense-transpositions': ([*TRAIN, '--transpositions', '13'], "--transpositions: '13' has a number"),
    'generate-missing-checkpoint': (['generate', '{missing}.npz', '--out', '{fugues}'],
                                    '{missing}.npz: no such checkpoint'),
    'generate-missing-data': ([*GENERATE, '--data', '{missing}'], '{missing}: no such folder'),
    'generate-empty-checkpoints': (['generate', '{empty}', '--out', '{fugues}'], '{empty}/: no checkpoint'),
    'generate-empty-data': ([*GENERATE, '--data', '{empty}'], '{empty}/pitch_matrix_24ticks_sh0.npz: no such file'),
    'generate-not-a-checkpoint': (['generate', '{not_midi}', '--out', '{fugues}'],
                                  '{not_midi}: not a Bach2.0 checkpoint'),
    'generate-not-midi-primer': ([*GENERATE, '--primer', '{not_midi}'], f'{{not_midi}}: {NOT_MIDI}'),
    'generate-nonsense-option': ([*GENERATE, '--frobnicate'], 'bach2 generate: error: unrecognized arguments'),
    'generate-nonsense-value': ([*GENERATE, '--bars', '2'], 'argument --bars: not allowed with argument --steps'),
    'journey-missing': ([*JOURNEY, '--data', '{missing}'], '{missing}: no such folder'),
    'journey-empty': ([*JOURNEY, '--data', '{empty}'], '{empty}: no .mid or .midi files in this folder'),
    'journey-not-midi': ([*JOURNEY, '--data', '{not_midi_folder}'], f'first: {{not_midi}}: {NOT_MIDI})'),
    'journey-short': ([*JOURNEY, '--data', '{short_midi}'],
                      '(0 unreadable, 2 skipped; first: bwv1_x: 16 steps, shorter than SEQUENCE_LENGTH + 1 = 65)'),
    'journey-nonsense-option': ([*JOURNEY, '--frobnicate'], 'bach2 journey: error: unrecognized arguments'),
    'journey-nonsense-value': ([*JOURNEY, '--temperature', 'hot'], "argument --temperature: invalid rate value"),
    'journey-short-fugue': ([*JOURNEY, '--fugue-bars', '3'], 'argument --fugue-bars: must be a whole number of bars'),
    'evaluate-missing': (['evaluate', '{missing}', *EVALUATE], '{missing}: no such folder'),
    'evaluate-empty': (['evaluate', '{empty}', *EVALUATE], '{empty}: no .mid or .midi files in this folder'),
    'evaluate-not-midi': (['evaluate', '{not_midi_folder}', *EVALUATE], f'first: {{not_midi}}: {NOT_MIDI})'),
    'evaluate-not-a-checkpoint': (['evaluate', '{midi}', '--checkpoint', '{not_midi}', *EVALUATE],
                                  '{not_midi}: not a Bach2.0 checkpoint'),
    'evaluate-corpus-not-prepared': (['evaluate', '{midi}', *EVALUATE, '--corpus', '{empty}'],
                                     '{empty}: not a prepared folder'),
    'evaluate-split-of-midi': (['evaluate', '{midi}', '--split', 'test', *EVALUATE],
                               '{midi}: --split needs a prepared folder with split.json'),
    'evaluate-nonsense-option': (['evaluate', '{midi}', '--frobnicate', *EVALUATE],
                                 'bach2 evaluate: error: unrecognized arguments'),
    'prepare-jsb-missing': (['prepare-jsb', '{missing}.json', '--out', '{out}'],
                            '{missing}.json: not a readable JSB Chorales JSON file'),
    'prepare-jsb-not-json': (['prepare-jsb', '{not_midi}', '--out', '{out}'],
                             '{not_midi}: not a readable JSB Chorales JSON file'),
    'prepare-jsb-nonsense-option': (['prepare-jsb', '{not_midi}', '--frobnicate'],
                                    'bach2 prepare-jsb: error: unrecognized arguments'),
    'listen-missing': (['listen', '{missing}.mid'], '{missing}.mid: cannot open: No such file or directory'),
    'listen-folder': (['listen', '{empty}'], '{empty}: cannot open'),
    'listen-not-midi': (['listen', '{not_midi}'], f'{{not_midi}}: {NOT_MIDI}'),
    'listen-nonsense-option': (['listen', '{short_piece}', '--frobnicate'], 'bach2 listen: error: unrecognized'),
    'look-missing': (['look', '{missing}.mid'], '{missing}.mid: cannot open: No such file or directory'),
    'look-folder': (['look', '{empty}'], '{empty}: no such file'),
    'look-not-midi': (['look', '{not_midi}'], f'{{not_midi}}: {NOT_MIDI}'),
    'look-nonsense-option': (['look', '{short_piece}', '--frobnicate'], 'bach2 look: error: unrecognized'),
    'gallery-missing': (['gallery', '{missing}'], '{missing}: no such folder'),
    'gallery-empty': (['gallery', '{empty}'], '{empty}: no generated pieces (.mid) in this folder'),
    'gallery-file': (['gallery', '{not_midi}'], '{not_midi}: not a folder'),
    'gallery-nonsense-option': (['gallery', '{fugues}', '--frobnicate'], 'bach2 gallery: error: unrecognized'),
    'chords-train-missing': (['chords', 'train', '--data', '{missing}', '--out', '{checkpoints}'],
                             '{missing}: no such folder'),
    'chords-train-empty': (['chords', 'train', '--data', '{empty}', '--out', '{checkpoints}'],
                           '{empty}/pitch_matrix_24ticks_sh0.npz: no such file'),
    'chords-evaluate-not-a-checkpoint': (['chords', 'evaluate', '{not_midi}'],
                                         '{not_midi}: not a checkpoint of a sequence model (not an .npz archive)'),
    'chords-generate-missing': (['chords', 'generate', '{missing}.npz', '--out-dir', '{fugues}'],
                                '{missing}.npz: no such checkpoint'),
    'chords-nonsense-option': (['chords', 'train', '--frobnicate'], 'error: unrecognized arguments: --frobnicate'),
    'lines-train-missing': (['lines', 'train', '--data', '{missing}', '--out', '{checkpoints}'],
                            '{missing}: no such folder'),
    'lines-generate-missing': (['lines', 'generate', '{missing}.npz', '{short_piece}', '--out-dir', '{fugues}'],
                               '{missing}.npz: no such checkpoint'),
    'lines-evaluate-not-a-checkpoint': (['lines', 'evaluate', '{not_midi}'],
                                        '{not_midi}: not a checkpoint of a sequence model (not an .npz archive)'),
    'chain-missing': (['chain', '{missing}.npz', '--melody', '{missing}.npz', '--second', '{missing}.npz',
                       '--out-dir', '{fugues}'], '{missing}.npz: no such checkpoint'),
    'chain-nonsense-option': (['chain', '--frobnicate'], 'bach2 chain: error:'),
    'harmonize-missing': (['harmonize', '{missing}.mid', *HARMONIZE], '{missing}.mid: cannot open'),
    'harmonize-not-midi': (['harmonize', '{not_midi}', *HARMONIZE], f'{{not_midi}}: {NOT_MIDI}'),
    'harmonize-not-a-midi-name': (['harmonize', '{out}/manifest.json', *HARMONIZE],
                                  '{out}/manifest.json: not a MIDI file (expected'),
    'harmonize-wrong-checkpoint': (['harmonize', '{short_piece}', '--checkpoint', '{ck}', *HARMONIZE],
                                   '{ck}: needed an lstm-nade drawn down'),
    'harmonize-missing-checkpoint': (['harmonize', '{short_piece}', '--checkpoint', '{missing}.npz', *HARMONIZE],
                                     '{missing}.npz: no such checkpoint'),
    'harmonize-nonsense-value': (['harmonize', '{short_piece}', '--voices', '7', *HARMONIZE],
                                 "argument --voices: invalid choice: 7"),
    'harmonize-unknown-voice': (['harmonize', '{short_piece}', '--voice', 'counter', *HARMONIZE],
                                "argument --voice: 'counter': voices are named alto"),
    'harmonize-voice-not-among-them': (['harmonize', '{short_piece}', '--voice', 'tenor', '--voices', '3', *HARMONIZE],
                                       "no 'tenor' among 3 voices: choose from soprano, alto, bass"),
    'harmonize-inner-voice-by-lstm-nade': (['harmonize', '{short_piece}', '--voice', 'alto', '--model', 'lstm-nade',
                                            *HARMONIZE], '--model lstm-nade harmonizes a lone soprano or bass'),
    'harmonize-not-a-voice-model': (['harmonize', '{short_piece}', '--voice', 'alto', '--checkpoint', '{ck}',
                                     *HARMONIZE], '{ck}: not a checkpoint of a voice model'),
    'rewrite-missing': (['rewrite', '{missing}.mid', '--bars', '1-2', *HARMONIZE], '{missing}.mid: cannot open'),
    'rewrite-not-midi': (['rewrite', '{not_midi}', '--bars', '1-2', *HARMONIZE], f'{{not_midi}}: {NOT_MIDI}'),
    'rewrite-bars-backwards': (['rewrite', '{short_piece}', '--bars', '8-5', *HARMONIZE],
                               "argument --bars: '8-5': the first bar must be 0 or more and not after the last"),
    'rewrite-no-such-bars': (['rewrite', '{short_piece}', '--bars', '50-60', *HARMONIZE],
                             'bars 50-60: the piece has bars 1-1'),
    'rewrite-no-bars': (['rewrite', '{short_piece}', *HARMONIZE], 'the following arguments are required: --bars'),
    'rewrite-missing-checkpoint': (['rewrite', '{short_piece}', '--bars', '1', '--checkpoint', '{missing}.npz',
                                    *HARMONIZE], '{missing}.npz: no such checkpoint'),
    'generate-voices-nonsense-value': (['generate', '--voices', '9', '--out', '{fugues}'],
                                       'argument --voices: invalid choice: 9'),
    'generate-voices-missing-primer': (['generate', '--voices', '3', '--primer', '{missing}.mid', '--out', '{fugues}'],
                                       '{missing}.mid: no such MIDI file, nor a piece of the built-in corpus'),
    'generate-voices-silence': (['generate', '--primer', 'silence', '--out', '{fugues}'],
                                '--primer silence: the voice model continues a primer'),
    'generate-lstm-nade-in-voices': (['generate', '--model', 'lstm-nade', '--voices', '3', '--out', '{fugues}'],
                                     '--voices continues with the voice model: leave out --model lstm-nade'),
    'generate-voices-with-a-rule': (['generate', '--model', 'voices', '--rule', 'argmax', '--out', '{fugues}'],
                                    'go with the LSTM-NADE: leave out --model voices'),
    'voices-prepare-missing': (['voices', 'prepare', '--data', '{missing}', *OUTS], '{missing}: no such folder'),
    'voices-prepare-not-midi': (['voices', 'prepare', '--data', '{not_midi_folder}', *OUTS],
                                f'gave a usable piece (1 unreadable, 0 skipped; first: {{not_midi}}: {NOT_MIDI})'),
    'voices-train-not-prepared': (['voices', 'train', '--data', '{prepared}', '--out', '{checkpoints}/v.npz'],
                                  '{prepared}/voice_tokens_24ticks_sh0.npz: no such file; run bach2 voices prepare'),
    'voices-nonsense-option': (['voices', 'train', '--frobnicate'], 'error: unrecognized arguments: --frobnicate'),
    'fugue-empty-subject': (['fugue', ' ', *HARMONIZE], 'the subject is empty'),
    'fugue-not-a-note': (['fugue', 'C4 H4', *HARMONIZE], "subject token 'H4' is not a note"),
    'fugue-bad-length': (['fugue', 'C4:0.3 D4', *HARMONIZE], 'a length must be a positive multiple'),
    'fugue-only-rests': (['fugue', 'r r:2', *HARMONIZE], 'the subject has only rests'),
    'fugue-out-of-range': (['fugue', 'C2 D7', '--form', 'exposition', *HARMONIZE], "wider than the model's 24–84"),
    'fugue-bad-key': (['fugue', 'C4 D4', '--key', 'H major', *HARMONIZE], "not a key: 'H major'"),
    'fugue-missing-midi': (['fugue', '{missing}.mid', *HARMONIZE], '{missing}.mid: cannot open'),
    'fugue-not-midi': (['fugue', '{not_midi}', *HARMONIZE], f'{{not_midi}}: {NOT_MIDI}'),
    'fugue-missing-checkpoint': (['fugue', 'C4 D4', '--form', 'exposition', '--up', '{missing}.npz', '--down',
                                  '{missing}.npz', *HARMONIZE], '{missing}.npz: no such checkpoint'),
    'fugue-one-checkpoint': (['fugue', 'C4 D4', '--form', 'exposition', '--up', '{ck}', *HARMONIZE],
                             '--up and --down go together'),
    'fugue-nonsense-value': (['fugue', 'C4 D4', '--temperature', '0', *HARMONIZE], 'argument --temperature'),
    'fugue-plan-not-json': (['fugue', '--plan', '{not_midi}', *HARMONIZE], '{not_midi}: not a readable plan file'),
    'fugue-plan-missing': (['fugue', '--plan', '{missing}.json', *HARMONIZE],
                           '{missing}.json: not a readable plan file'),
    'fugue-whole-by-lstm-nade': (['fugue', 'C4 D4', '--model', 'lstm-nade', *HARMONIZE],
                                 'a whole fugue is written by the voice model'),
    'fugue-bad-middle-key': (['fugue', 'C4 D4 E4 C4', '--keys', 'H major', *HARMONIZE], "--keys 'H major'"),
    'fugue-no-subject': (['fugue', *HARMONIZE], 'the subject is empty'),
    'complete-missing': (['complete', '{missing}.mid', *HARMONIZE], '{missing}.mid: cannot open'),
    'complete-not-midi': (['complete', '{not_midi}', *HARMONIZE], f'{{not_midi}}: {NOT_MIDI}'),
    'complete-nonsense-value': (['complete', '{not_midi}', '--bars', '0', *HARMONIZE], 'argument --bars'),
    'studio-bad-port': (['studio', '--port', '99999', '--out-dir', '{fugues}'], '--port 99999: not a port (0–65535)'),
    'studio-nonsense-option': (['studio', '--frobnicate'], 'bach2 studio: error: unrecognized arguments'),
    'no-command': ([], 'bach2: error: the following arguments are required: COMMAND (see bach2 --help)'),
    'unknown-command': (['frobnicate'], "bach2: error: argument COMMAND: invalid choice: 'frobnicate'"),
}


@pytest.mark.parametrize('case', CASES)
def test_bad_input_is_one_line_and_overwrites_nothing(case, inputs, tmp_path):
    outputs = existing_outputs(tmp_path)
    names = {**inputs, **outputs}
    args, message = CASES[case]
    before = snapshot(tmp_path, *inputs.values())
    result = bach2([arg.format(**names) for arg in args], cwd=tmp_path)
    lines = answer_lines(result.stderr)
    assert result.returncode != 0, result.stdout
    assert 'Traceback' not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    assert message.format(**names) in lines[0]
    assert lines[0].startswith('bach2'), lines[0]
    assert snapshot(tmp_path, *inputs.values()) == before


@pytest.mark.parametrize('args', [['prepare', '--data', '{short_midi}', '--out', '{new}', '--jobs', '1'],
                                  ['inspect', '{short_piece}'],
                                  [*GENERATE, '--primer', '{short_piece}', '--out', '{new}']])
def test_short_pieces_are_fine_where_no_window_is_needed(args, inputs, tmp_path):
    result = bach2([arg.format(**inputs, new=tmp_path / 'new', fugues=tmp_path / 'new') for arg in args],
                   cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not answer_lines(result.stderr), result.stderr
