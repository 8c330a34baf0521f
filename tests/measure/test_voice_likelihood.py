"""bach2.measure.voice_likelihood: Coconet's framewise NLL, checked against the chain rule cell by cell."""
import numpy as np

from bach2.data.default_corpus import KEYBOARD_VOICES
from bach2.data.voice_data import piece_voice_tokens
from bach2.data.voice_tokens import REST
from bach2.midi_to_time_series import midi_to_time_series
from bach2.models.voice_model import VoiceConfig, VoiceModel, network_inputs
from bach2.measure.voice_likelihood import framewise_nll, ordering_nll


def test_the_framewise_nll_is_the_chain_rule_in_one_ordering():
    piece = midi_to_time_series(KEYBOARD_VOICES / 'mutopia' / 'bwv772_invention_bach-invention-01.mid')
    tokens, positions, _ = piece_voice_tokens(piece)
    tokens, positions = tokens[:12].T.astype(np.int32), positions[:12, 0]          # 2 voices × 12 steps
    model = VoiceModel(VoiceConfig(channels=8, n_blocks=2, dilations=(1, 2)), training=False, seed=4)
    total, frames = ordering_nll(model, tokens, positions, np.random.default_rng(7))
    rng = np.random.default_rng(7)                                 # the same ordering, drawn the same way
    order = rng.permutation(12)
    voices = [rng.permutation(2) for _ in range(12)]
    full = np.full((2, 64), REST, np.int32)
    full[:, :12] = tokens
    clock = np.zeros(64, np.int64)
    clock[:12] = positions
    known = np.zeros((2, 64), bool)
    known[:, 12:] = True
    predict = model.predict((1, 2, 64))
    expected = 0.0
    for t, voice_order in zip(order, voices):
        for v in voice_order:
            log_p = np.asarray(predict(*network_inputs(full[None], known[None], clock[None])))[0]
            expected -= log_p[v, t, full[v, t]]
            known[v, t] = True
    assert frames == 12
    np.testing.assert_allclose(total, expected, rtol=1e-4)
    result = framewise_nll(model, [(tokens, positions)], progress=False)
    assert result['frames'] == 12 and result['nll_per_frame'] > 0
