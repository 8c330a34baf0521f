"""Rendering: piano rolls and plots, audio (FluidSynth), MusicXML scores, the gallery."""
