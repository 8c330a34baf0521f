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
