"""Rendering: one writer of a piece in every format (``piece``), piano rolls and plots, audio (FluidSynth),
MusicXML scores, the gallery, the training curves."""
