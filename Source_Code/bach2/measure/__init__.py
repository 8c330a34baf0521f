"""Measurement: NLL on held-out pieces, musical statistics, the Bach-or-not judge, baselines, and the
journal's experiments."""
