"""ONNX export of a trained S4Net checkpoint, and the PyTorch/onnxruntime parity check."""
