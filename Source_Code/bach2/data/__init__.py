"""Corpora and training data: preparing a folder of MIDI (stages 0–2 on disk), the built-in corpus, the JSB
Chorales and the four polyphonic benchmarks, the training set and its windows, the piece filters."""
