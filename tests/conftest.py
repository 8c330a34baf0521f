"""Shared fixtures: the developer corpus under ../shared/data (present in CI, optional locally)."""
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / 'shared' / 'data'


@pytest.fixture
def bach_keyboard_files():
    """Sorted paths of every ``bach_keyboard/*/*.mid``; skips when ../shared/data is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip('../shared/data is absent (CI has it)')
    return sorted((SHARED_DATA / 'bach_keyboard').glob('*/*.mid'))


#: three inventions of the built-in corpus in voices, two voices each (one compiled shape); BWV 772 and 776 are
#: works the shipped models held out
INVENTIONS = ('bwv773_invention_bach-invention-02.mid', 'bwv772_invention_bach-invention-01.mid',
              'bwv776_invention_bach-invention-05.mid')


@pytest.fixture(scope='session')
def inventions_in_voices(tmp_path_factory):
    """:data:`INVENTIONS` prepared as voice tokens in 12 keys (``bach2 voices prepare``) → the prepared folder."""
    import shutil
    from bach2.data.default_corpus import KEYBOARD_VOICES
    from bach2.data.voice_data import prepare_voice_data
    folder = tmp_path_factory.mktemp('inventions_in_voices')
    (folder / 'midi').mkdir()
    for name in INVENTIONS:
        shutil.copy(KEYBOARD_VOICES / 'mutopia' / name, folder / 'midi' / name)
    prepare_voice_data(folder / 'midi', folder / 'data', progress=False)
    return folder / 'data'
