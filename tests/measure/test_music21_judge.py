"""bach2.measure.music21_judge: our keys and chords against music21's on its own Bach chorales."""
import pytest
from music21 import chord

from bach2.data.default_corpus import default_corpus_scores
from bach2.measure.music21_judge import judge_score, music21_family


@pytest.mark.parametrize('pitches, family', [
    (['C4', 'E4', 'G4'], 'major'),
    (['A3', 'C4', 'E4'], 'minor'),
    (['G3', 'B3', 'D4', 'F4'], 'dominant'),
    (['B3', 'D4', 'F4', 'A-4'], 'diminished'),      # diminished seventh
    (['B3', 'D4', 'F4', 'A4'], 'diminished'),       # half-diminished seventh
    (['C4', 'E4', 'G#4'], 'augmented'),
])
def test_music21_family(pitches, family):
    assert music21_family(chord.Chord(pitches)) == family


def test_agreement_on_the_first_25_chorales():
    # The full-corpus numbers (keys 98 %, chords 84 % of beats) come from benchmarks/music21_agreement.py;
    # here a 25-score sample (about 10 s) guards against regressions.
    results = [judge_score(path) for path in default_corpus_scores()[:25]]
    for r in results:
        assert set(r['our_keys']) == set(r['key_agrees']) >= {'aarden_essen', 'krumhansl_kessler', 'pitch_count'}
        assert all(r['key_agrees'][method] == (key == r['music21_key']) for method, key in r['our_keys'].items())
        assert 0 <= r['chord_agreements'] <= r['chord_beats']
    key_agreement = sum(r['key_agrees']['aarden_essen'] for r in results) / len(results)
    assert key_agreement >= 0.9, [(r['our_keys']['aarden_essen'], r['music21_key'])
                                  for r in results if not r['key_agrees']['aarden_essen']]
    beats = sum(r['chord_beats'] for r in results)
    agreements = sum(r['chord_agreements'] for r in results)
    assert beats > 25 * 30                              # every chorale has dozens of judged beats
    assert agreements / beats >= 0.8, agreements / beats
