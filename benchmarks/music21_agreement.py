"""Stage 2 against an independent judge: key and chord agreement with music21 on its Bach scores.

For every score of music21's Bach corpus (or the first ``--limit``): our key
(Krumhansl–Schmuckler with each profile set, and the journal's pitch counter)
against ``score.analyze('key')``, and our chord per quarter note against
``chordify()`` on beats where music21 sounds a plain triad or seventh chord
(root and family must match). See :mod:`bach2.measure.music21_judge`.

    python benchmarks/music21_agreement.py [--limit N]
"""
import argparse

from tqdm import tqdm

from bach2.data.default_corpus import default_corpus_scores
from bach2.measure.music21_judge import judge_score


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--limit', type=int, help='judge only the first N scores')
    args = parser.parse_args()
    scores = default_corpus_scores()[:args.limit]
    key_agreements = {'aarden_essen': 0, 'krumhansl_kessler': 0, 'pitch_count': 0}
    beats = chord_agreements = 0
    for score in tqdm(scores, desc='judging', unit='score'):
        result = judge_score(score)
        for profiles, agrees in result['key_agrees'].items():
            key_agreements[profiles] += agrees
        beats += result['chord_beats']
        chord_agreements += result['chord_agreements']
    print(f'{len(scores)} music21 Bach scores')
    for method, agreed in key_agreements.items():
        print(f'key, {method:18s}: {agreed}/{len(scores)} = {agreed / len(scores):.1%} agree with music21')
    print(f'chords (root and family): {chord_agreements}/{beats} triad/seventh beats = '
          f'{chord_agreements / beats:.1%} agree with music21 chordify')


if __name__ == '__main__':
    main()
