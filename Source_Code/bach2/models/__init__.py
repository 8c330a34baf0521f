"""Models: their configs, every kind of checkpoint (saved, loaded, described, shipped), the NLL of the journal's
model, the sequence models of the road map (chord progressions, lines over a bass) and their training loop."""
