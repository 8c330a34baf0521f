"""The network library with Lasagne's semantics: layers, the fused LSTM and NADE ops, objectives, updates."""
