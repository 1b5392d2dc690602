"""S4Net in PyTorch: network, losses, data, training and evaluation (training/export side only)."""
