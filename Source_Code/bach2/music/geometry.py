"""What one row and one column of a pitch matrix mean: the step in ticks and the pitch window."""
import dataclasses

from bach2.time_series_to_pitch_matrix import JOURNAL_RESOLUTION, JOURNAL_STEP_TICKS, LOWEST_PITCH, N_PITCHES


@dataclasses.dataclass
class Geometry:
    """A ``T × P`` pitch matrix: row t is the step of ticks ``[t · step_ticks, (t + 1) · step_ticks)`` at
    :data:`~bach2.time_series_to_pitch_matrix.JOURNAL_RESOLUTION` (96) ticks per quarter; column j is MIDI
    pitch ``lowest_pitch + j``, j < ``n_pitches``."""
    step_ticks: int = JOURNAL_STEP_TICKS     # 24: a 16th note
    n_pitches: int = N_PITCHES               # 61
    lowest_pitch: int = LOWEST_PITCH         # 24: MIDI C_2

    @property
    def steps_per_quarter(self):
        return JOURNAL_RESOLUTION // self.step_ticks
