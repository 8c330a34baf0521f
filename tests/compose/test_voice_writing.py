"""bach2.compose.voice_writing and the fugue in voices: given notes kept exactly, the rest of a piece unchanged,
written as MIDI and read back. The model is small and untrained: what is tested is what the writing keeps."""
import numpy as np
import pytest

from bach2.common import CorpusError
from bach2.compose.fugue import Form, SubjectError, write_voice_fugue
from bach2.compose.lines import Sampling
from bach2.compose.voice_writing import (bar_steps, continue_file, harmonize_file, harmonizer, read_voices,
                                         rewrite_file)
from bach2.data.default_corpus import KEYBOARD_VOICES
from bach2.data.voice_tokens import VOICE_NAMES, token_notes
from bach2.midi_to_time_series import midi_to_time_series
from bach2.models.checkpoints import save_model_checkpoint
from bach2.models.voice_model import VoiceConfig, VoiceModel
from bach2.render.piece import Output

TUNES = KEYBOARD_VOICES.parents[1] / 'benchmarks' / 'tunes'
INVENTION = KEYBOARD_VOICES / 'mutopia' / 'bwv772_invention_bach-invention-01.mid'
FAST = Sampling(seed=1)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """A small voice model with its initial parameters, as a checkpoint."""
    path = tmp_path_factory.mktemp('model') / 'voices.npz'
    model = VoiceModel(VoiceConfig(channels=8, n_blocks=1, dilations=(1,)), training=False, seed=2)
    return save_model_checkpoint(path, model, {'held_out': [INVENTION.stem]})


def notes_of(path):
    """A written MIDI file → {track name: [(onset, pitch, duration)] in 16ths}."""
    piece = midi_to_time_series(path)
    scale = piece.resolution // 4
    return {voice.name: [(o // scale, p, d // scale) for o, p, d in voice.notes] for voice in piece.voices}


def test_an_inner_voice_given_is_kept_note_for_note(checkpoint, tmp_path):
    files, written = harmonize_file(TUNES / 'auld_lang_syne.mid', ('alto',), 4, checkpoint, FAST,
                                    Output(tmp_path, audio=None))
    tune = midi_to_time_series(TUNES / 'auld_lang_syne.mid')
    scale = tune.resolution // 4
    melody = [(o // scale, p, d // scale) for o, p, d in sorted(tune.voices[0].notes)]
    voices = notes_of(files['mid'])
    assert list(voices) == list(VOICE_NAMES[4]) and voices['alto'] == melody
    assert written.tokens.shape[0] == 4


def test_a_rewritten_passage_leaves_the_rest_of_the_piece_as_it_was(checkpoint, tmp_path):
    files, _, free = rewrite_file(INVENTION, (3, 4), ['bass'], checkpoint, FAST, Output(tmp_path, audio=None))
    original = read_voices(midi_to_time_series(INVENTION))      # on the 16th grid: what the model reads
    passage = bar_steps(original.positions, 3, 4)
    upper, lower = (token_notes(row, 1) for row in original.tokens)
    after = notes_of(files['mid'])
    assert after['soprano'] == upper                                         # the upper voice untouched

    def outside(notes):                       # notes none of whose steps were written again
        return [(o, p, d) for o, p, d in notes if not free[1, o:o + d].any()]
    assert outside(after['bass']) == outside(lower) and len(outside(lower)) > 0.8 * len(lower)
    assert free[0].sum() == 0 and free[1, passage.start:passage.stop].all()


def test_bars_count_from_one_and_a_pickup_is_bar_zero():
    positions = np.array([[12, 16]] * 4 + [[p % 16, 16] for p in range(32)])     # a quarter of pickup, two bars
    positions[:4, 0] = [12, 13, 14, 15]
    assert bar_steps(positions, 0, 0) == range(0, 4) and bar_steps(positions, 2, 2) == range(20, 36)
    with pytest.raises(CorpusError, match='bars 3-4: the piece has bars 0-2'):
        bar_steps(positions, 3, 4)


def test_the_harmonizer_rule():
    assert harmonizer(['soprano'], 4) == 'lstm-nade' and harmonizer(['alto'], 4) == 'voices'
    assert harmonizer(['soprano'], 5) == 'voices' and harmonizer(['soprano', 'bass'], 4) == 'voices'
    with pytest.raises(CorpusError, match='lone soprano or bass'):
        harmonizer(['tenor'], 4, 'lstm-nade')


def test_a_continuation_keeps_its_primer(checkpoint, tmp_path):
    files, written = continue_file(None, 2, 32, 1, checkpoint, FAST, Output(tmp_path, audio=None))
    original = read_voices(midi_to_time_series(INVENTION))
    head = bar_steps(original.positions, 1, 1).stop
    assert files['mid'].name.startswith('voices2_bwv772') and written.tokens.shape == (2, head + 32)
    assert (written.tokens[:, :head] == original.tokens[:, :head]).all()


def test_a_fugue_in_voices_keeps_its_entries_in_the_voices_asked(checkpoint, tmp_path):
    subject = 'D4:1 A4 F4 D4 C#4 D4:0.5 E4 F4:2'
    files, report = write_voice_fugue(subject, Form(voices=4, free_bars=1), ('tenor', 'alto', 'soprano', 'bass'),
                                      checkpoint, FAST, Output(tmp_path, audio=None))
    assert [voice for _, voice, _ in report['entries']] == ['tenor', 'alto', 'soprano', 'bass']
    voices = notes_of(files['mid'])
    assert [p for o, p, d in voices['tenor'] if o < 32] == [50, 57, 53, 50, 49, 50, 52, 53]
    assert all(o >= 32 for o, _, _ in voices['alto']) and voices['alto'][0][0] == 32
    assert voices['alto'][0][1] % 12 == 9                                  # the answer starts on A
    assert report['entries_intact'] == 1.0
    with pytest.raises(SubjectError, match='name each of the 4 voices once'):
        write_voice_fugue(subject, Form(voices=4), ('tenor', 'tenor'), checkpoint, FAST, Output(tmp_path))
