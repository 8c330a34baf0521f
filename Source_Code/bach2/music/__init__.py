"""Music representation: reading MIDI bytes, metre, keys, pitch names, progressions, the pitch-matrix geometry."""
