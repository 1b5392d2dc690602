"""What app/, model/, export/ and the benchmarks agree on, free of torch and Qt: the ONNX graph's
names and metadata (graph.py) and the geometry of masks (masks.py)."""
