"""What app/, model/, export/ and the benchmarks agree on, free of torch and Qt: the ONNX graph's
names and metadata (graph.py), the way from a frame to the graph and back (postprocess.py), the
geometry of masks (masks.py) and their edge refinement (refine.py)."""
