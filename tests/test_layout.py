"""The package's layout: the rooms' imports run one way (down the floors) and form no cycle.

Floors, bottom to top (see the package's ``__init__``): what everyone shares; music and the network library
(with the journal's stages 0–2); data, models and rendering (with the journal's model, training and sampler);
composing and measuring; the applications. A module may import from its own floor or below, at the top of
the file or inside a function.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / 'Source_Code' / 'bach2'
FLOORS = [
    {'common', 'safe_io'},
    {'music', 'nn', 'midi_to_time_series', 'time_series_to_pitch_matrix', 'time_series_to_midi', 'chord_sequence'},
    {'data', 'models', 'render', 'rnn_model', 'train', 'sampling'},
    {'compose', 'measure'},
    {'app'},
]
JOURNAL = ('midi_to_time_series', 'time_series_to_pitch_matrix', 'time_series_to_midi', 'chord_sequence',
           'rnn_model', 'train', 'sampling')


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def modules():
    return {module_name(path): path for path in PACKAGE.rglob('*.py')}


def imports(path):
    """The ``bach2`` modules that the file at ``path`` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or '').startswith('bach2.'):
            found.add(node.module)
            found.update(f'{node.module}.{alias.name}' for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith('bach2.'))
    known = modules()
    return {name for name in found if name in known}


def floor(module):
    """The floor of ``bach2.<room or module>[...]``; the package itself (its version) is floor 0."""
    parts = module.split('.')
    if len(parts) == 1:
        return 0
    return next(i for i, names in enumerate(FLOORS) if parts[1] in names)


def test_every_module_has_a_floor():
    rooms = {name.split('.')[1] for name in modules() if '.' in name}
    assert rooms <= set().union(*FLOORS), f'modules on no floor: {rooms - set().union(*FLOORS)}'


def test_the_journals_modules_stay_at_the_top_of_the_package():
    assert all((PACKAGE / f'{name}.py').is_file() for name in JOURNAL)


@pytest.mark.parametrize('name', sorted(modules()))
def test_imports_run_down_the_floors(name):
    upward = sorted(target for target in imports(modules()[name]) if floor(target) > floor(name))
    assert not upward, f'{name} (floor {floor(name)}) imports from above: {upward}'


def test_no_import_cycle():
    graph = {name: {t for t in imports(path) if t != name and not name.startswith(t + '.')}
             for name, path in modules().items()}
    state = {}

    def visit(name, trail):
        state[name] = 'open'
        for target in graph.get(name, ()):
            if state.get(target) == 'open':
                raise AssertionError('import cycle: ' + ' -> '.join(trail[trail.index(target):] + [target]))
            if target not in state:
                visit(target, trail + [target])
        state[name] = 'done'

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_scripts_that_import_the_journals_modules_still_work():
    """What the journal's modules offered before the package had rooms still imports from them."""
    from bach2.chord_sequence import extract_chord_sequence, find_chord  # noqa: F401
    from bach2.midi_to_time_series import Piece, Voice, midi_to_time_series  # noqa: F401
    from bach2.rnn_model import ModelConfig, RNNModel  # noqa: F401
    from bach2.sampling import Sampler, repetition_report  # noqa: F401
    from bach2.time_series_to_midi import time_series_to_midi  # noqa: F401
    from bach2.time_series_to_pitch_matrix import (LOWEST_PITCH, bass_line,  # noqa: F401
                                                   time_series_to_pitch_matrix)
    from bach2.train import ModelConfig, TrainConfig, Trainer, export_model, train, window_nll  # noqa: F401, F811
