"""benchmarks/sampled_statistics.py: pooled statistics, Bach's continuations, the paired bootstrap, end to end."""
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from bach2.measure.music_statistics import music_statistics, piece_counts, pooled_statistics
from bach2.models.model_config import ModelConfig

_spec = importlib.util.spec_from_file_location(
    'sampled_statistics', Path(__file__).resolve().parents[2] / 'benchmarks' / 'sampled_statistics.py')
sampled_statistics = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sampled_statistics)

LOW = 24


def random_piece(rng, pitches, steps=64):
    """``steps × 61`` piece whose steps sound random subsets of ``pitches`` (MIDI numbers)."""
    matrix = np.zeros((steps, 61), np.uint8)
    for row in matrix:
        row[[p - LOW for p in rng.choice(pitches, 3)]] = 1
    return matrix


def test_pooling_counts_equals_the_statistics_of_the_pieces_with_repeats():
    rng = np.random.default_rng(0)
    pieces = [random_piece(rng, [60, 62, 64, 65, 67]), random_piece(rng, [57, 60, 64, 69])]
    counts = [piece_counts(piece, LOW, 4) for piece in pieces]
    assert pooled_statistics([counts[0], counts[1], counts[1]]) == music_statistics(pieces + pieces[1:], LOW)


def test_bach_continues_each_primer_with_its_own_next_steps():
    from bach2.music.metre import regular_positions
    piece = np.arange(20 * 61).reshape(20, 61) % 2
    struck = piece * (np.arange(20) % 3 == 0)[:, None]                    # its onset plane
    corpus = [(np.hstack([piece, struck]), None, 'bwv1', regular_positions(20, 16)),
              (np.hstack([1 - piece, 1 - piece]), None, 'bwv2', None)]    # pieces with onsets: 2P wide
    found = sampled_statistics.bach_continuations([(None, 'bwv2', 4, None, None), (None, 'bwv1', 16, None, None)],
                                                  corpus, 8, 61)
    np.testing.assert_array_equal(found[0][0], 1 - piece[4:12])
    assert found[0][1] is None                                             # a folder prepared before positions
    np.testing.assert_array_equal(found[1][0], piece[16:20])               # only what is left of the piece
    np.testing.assert_array_equal(found[1][1], regular_positions(4, 16, first=0))
    np.testing.assert_array_equal(found[1][2], struck[16:20])


def test_the_bootstrap_finds_the_set_drawn_like_the_corpus_closer_on_all_three():
    rng = np.random.default_rng(1)
    c_major = [48, 52, 55, 60, 62, 64, 65, 67, 69, 71, 72]
    corpus_pieces = [random_piece(rng, c_major) for _ in range(30)]
    corpus = music_statistics(corpus_pieces, LOW)
    alike = [piece_counts(random_piece(rng, c_major), LOW, 4) for _ in range(12)]
    clusters = [piece_counts(random_piece(rng, [61, 62, 63, 66, 70]) | np.eye(64, 61, 30, np.uint8), LOW, 4)
                for _ in range(12)]
    resampled = sampled_statistics.bootstrap_distances({'clusters': clusters, 'alike': alike}, corpus, 200)
    assert all(len(values) == 200 for values in resampled['alike'].values())
    assert sampled_statistics.share_closer(resampled, 'alike', 'clusters') == {
        'pitch_class_histogram': 1.0, 'chord_transitions': 1.0, 'polyphony': 1.0, 'sounding_notes': 1.0,
        'note_durations': 1.0, 'all_three': 1.0}                           # no bar positions here: no onset_positions
    assert set(sampled_statistics.share_closer(resampled, 'clusters', 'clusters').values()) == {0.0}   # never
    assert set(sampled_statistics.share_closer(resampled, 'clusters', 'alike').values()) == {0.0}


def test_two_checkpoints_end_to_end(tmp_path, monkeypatch):
    """Two tiny models on made-up quarter-note chorales → the table, the bootstrap, results.json and the pieces."""
    from bach2.data.jsb_chorales import prepare_jsb_chorales
    from bach2.models.checkpoints import checkpoint_path
    from bach2.train import TrainConfig, train
    rng = np.random.default_rng(5)
    chorale = lambda: [sorted(set(int(p) for p in rng.integers(48, 80, 3))) for _ in range(24)]   # noqa: E731
    (tmp_path / 'jsb.json').write_text(json.dumps({'train': [chorale() for _ in range(4)],
                                                   'valid': [chorale()], 'test': [chorale()]}))
    prepare_jsb_chorales(tmp_path / 'jsb.json', tmp_path / 'data', transpositions=(0,))
    checkpoints = []
    for model in ('lstm', 'lstm-nade'):
        model_config = ModelConfig(n_layers=1, n_hidden=8, sequence_length=4, batch_size=4, n_pitches=88,
                                   lowest_pitch=21, model=model, nade_hidden=6)
        train_config = TrainConfig(str(tmp_path / 'data'), str(tmp_path / model), epochs=1, transpositions=(0,),
                                   step_ticks=96)
        train(model_config, train_config, progress=False, log=lambda line: None)
        checkpoints.append(f'{model}={checkpoint_path(train_config, model_config)}')
    monkeypatch.setattr(sys, 'argv', ['sampled_statistics.py', *checkpoints, '--data', str(tmp_path / 'data'),
                                      '--out', str(tmp_path / 'out'), '--count', '3', '--steps', '8',
                                      '--bootstrap', '20'])
    sampled_statistics.main()
    results = json.loads((tmp_path / 'out' / 'results.json').read_text())
    assert list(results['distances']) == ['bach', 'lstm', 'lstm-nade']
    assert set(results['bootstrap_share_closer']) == {'lstm-nade'}
    assert all(0 <= share <= 1 for share in results['bootstrap_share_closer']['lstm-nade'].values())
    assert len(list((tmp_path / 'out' / 'lstm-nade').glob('lstm-nade_*.mid'))) == 3
    assert (tmp_path / 'out' / 'distances.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    low, high = results['bootstrap_5_95']['bach']['polyphony']
    assert 0 <= low <= high
    # the metre statistics: every set read with bar positions (4/4 from the first frame; the primer's continued)
    assert {'sounding_notes', 'onset_positions'} <= set(results['distances']['lstm-nade'])
    assert {'sounding_notes', 'onset_positions'} <= set(results['bootstrap_share_closer']['lstm-nade'])


def test_a_label_without_a_checkpoint_is_refused(tmp_path):
    with pytest.raises(Exception, match='no such checkpoint'):
        sampled_statistics.checkpoint_argument(f'nade={tmp_path / "missing.npz"}')
    with pytest.raises(Exception, match='LABEL=CHECKPOINT'):
        sampled_statistics.checkpoint_argument('bach=x.npz')
