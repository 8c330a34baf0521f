"""Composing: continue a piece, harmonize a line, write a fugue exposition, chain the road map's models."""
