"""Measurement: NLL on held-out pieces, musical statistics, the Bach-or-not judge, baselines, the journal's experiments."""
