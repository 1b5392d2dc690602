"""The onnxruntime engine shared by the video command and the GUI.

One call per frame: resize to the graph's input, run the S4Net graph, and return the instances in
frame coordinates. Masks stay as the graph's small whole-frame probability maps (stride 8) until
`paste_mask` cuts out the full-resolution mask inside each instance's box, so no full-frame float
mask is ever built.
"""
import importlib.util
import os
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

ASSETS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets")
DEFAULT_MODEL = os.path.join(ASSETS, "s4net.onnx")
FP16_SUFFIX = ".fp16.onnx"
EXPECTED_INPUTS = ["image", "score_threshold"]
EXPECTED_OUTPUTS = ["boxes", "scores", "masks"]


class EngineError(Exception):
    """A one-line, user-facing reason why the engine cannot run."""


@dataclass
class Detections:
    boxes: np.ndarray       # (N,4) float32 x1 y1 x2 y2 in frame pixels
    scores: np.ndarray      # (N,) float32, best first
    maps: np.ndarray        # (N,h,w) float32 mask probabilities over the whole frame (stride 8)
    frame_size: tuple       # (height, width)
    ids: np.ndarray = field(default=None)  # (N,) int track ids, set by the tracker

    def __len__(self):
        return len(self.scores)


def paste_mask(prob_map, box, frame_size, threshold=0.5):
    """Full-resolution boolean mask of one instance, only inside its box: (x0, y0, mask crop).
    The small whole-frame map is sampled bilinearly at the frame's pixel centres."""
    h, w = frame_size
    x0, y0 = max(int(np.floor(box[0])), 0), max(int(np.floor(box[1])), 0)
    x1, y1 = min(int(np.ceil(box[2])), w), min(int(np.ceil(box[3])), h)
    if x1 <= x0 or y1 <= y0:
        return x0, y0, np.zeros((0, 0), bool)
    mh, mw = prob_map.shape
    sx, sy = mw / w, mh / h
    affine = np.array([[sx, 0, (x0 + 0.5) * sx - 0.5], [0, sy, (y0 + 0.5) * sy - 0.5]], np.float32)
    crop = cv2.warpAffine(prob_map, affine, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)
    return x0, y0, crop > threshold


def _cuda_failure_reason(available):
    if "CUDAExecutionProvider" not in available:
        return "this onnxruntime build has no CUDA provider (install onnxruntime-gpu)"
    return ("the CUDA provider did not start (no NVIDIA GPU or driver, or CUDA/cuDNN libraries missing: "
            "pip install 'onnxruntime-gpu[cuda,cudnn]')")


class Engine:
    def __init__(self, model_path=None, device="auto", score_threshold=None, max_instances=None,
                 threads=0, log=print):
        import onnxruntime as ort
        self.ort = ort
        explicit = model_path is not None
        model_path = model_path or DEFAULT_MODEL
        if device not in ("auto", "cuda", "cpu"):
            raise EngineError(f"unknown device {device!r} (auto, cuda or cpu)")
        if not os.path.isfile(model_path):
            raise EngineError(f"model file not found: {model_path}")
        available = ort.get_available_providers()
        want_cuda = device == "cuda" or (device == "auto" and "CUDAExecutionProvider" in available)
        fp32_path = model_path
        if want_cuda and not explicit and os.path.isfile(model_path[:-5] + FP16_SUFFIX):
            model_path = model_path[:-5] + FP16_SUFFIX  # the float16 graph is for GPUs
        self.model_path = model_path
        opts = ort.SessionOptions()
        opts.log_severity_level = 3  # the provider fallback is reported by us, in one line
        if threads:
            opts.intra_op_num_threads = threads
        providers = ["CPUExecutionProvider"]
        if want_cuda:
            # onnxruntime logs a page of errors when the CUDA provider cannot load; we report the
            # outcome ourselves in one line, from the session's actual providers
            ort.set_default_logger_severity(4)
            if hasattr(ort, "preload_dlls") and importlib.util.find_spec("nvidia") is not None:
                ort.preload_dlls()  # CUDA/cuDNN from the pip packages of onnxruntime-gpu[cuda,cudnn]
            cuda_opts = {"cudnn_conv_algo_search": "HEURISTIC", "do_copy_in_default_stream": "1"}
            providers = [("CUDAExecutionProvider", cuda_opts), "CPUExecutionProvider"]
        try:
            self.session = ort.InferenceSession(model_path, opts, providers=providers)
        except Exception as e:
            msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            raise EngineError(f"{model_path} is not a loadable ONNX model ({msg})") from None
        self.provider = self.session.get_providers()[0]
        if want_cuda and self.provider != "CUDAExecutionProvider":
            reason = _cuda_failure_reason(available)
            if device == "cuda":
                raise EngineError(f"CUDA was requested but the session runs on {self.provider}: {reason}")
            log(f"running on the CPU: {reason}")
            if model_path != fp32_path:  # float16 is slower than float32 on the CPU provider
                self.model_path = fp32_path
                self.session = ort.InferenceSession(fp32_path, opts, providers=["CPUExecutionProvider"])
                self.provider = self.session.get_providers()[0]
        self.meta = meta = self._check_graph()
        self.input_size = int(meta["input_size"])
        self.score_threshold = float(meta.get("score_threshold_default", 0.5)) if score_threshold is None \
            else float(score_threshold)
        self.max_instances = int(meta.get("max_detections", 20)) if max_instances is None else int(max_instances)
        self.precision = meta.get("precision", "float32")
        self._binding = self.session.io_binding() if self.provider == "CUDAExecutionProvider" else None
        self.last_times = {}
        self.warm_up()

    def _check_graph(self):
        meta = self.session.get_modelmeta().custom_metadata_map
        names_in = [i.name for i in self.session.get_inputs()]
        names_out = [o.name for o in self.session.get_outputs()]
        if meta.get("model_name") != "S4Net" or names_in != EXPECTED_INPUTS or names_out != EXPECTED_OUTPUTS \
                or "input_size" not in meta:
            raise EngineError(f"{self.model_path} is not an S4Net graph of this app "
                              f"(inputs {names_in}, outputs {names_out}, model_name {meta.get('model_name')!r})")
        return meta

    def describe(self):
        return (f"{os.path.basename(self.model_path)} ({self.meta.get('backbone', '?')}, {self.precision}, "
                f"{self.input_size}px) on {self.provider}")

    def warm_up(self, runs=2):
        blank = np.zeros((self.input_size, self.input_size, 3), np.uint8)
        for _ in range(runs):
            self.run(blank)

    def _run_graph(self, image):
        feed_thr = np.array([self.score_threshold], np.float32)
        if self._binding is None:
            return self.session.run(None, {"image": image, "score_threshold": feed_thr})
        b = self._binding
        b.bind_cpu_input("image", image)
        b.bind_cpu_input("score_threshold", feed_thr)
        for name in EXPECTED_OUTPUTS:
            b.bind_output(name, "cpu")  # sizes are dynamic: let onnxruntime allocate on the host
        self.session.run_with_iobinding(b)
        return b.copy_outputs_to_cpu()

    def run(self, frame_bgr):
        """Frame (H,W,3) uint8 BGR -> Detections in frame coordinates."""
        if frame_bgr is None or frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise EngineError("a frame must be an HxWx3 uint8 BGR image")
        t0 = time.perf_counter()
        h, w = frame_bgr.shape[:2]
        s = self.input_size
        image = cv2.resize(frame_bgr, (s, s), interpolation=cv2.INTER_AREA if w > s else cv2.INTER_LINEAR)[None]
        t1 = time.perf_counter()
        boxes, scores, maps = self._run_graph(image)
        t2 = time.perf_counter()
        n = min(len(scores), self.max_instances)
        boxes = boxes[:n] * np.array([w / s, h / s, w / s, h / s], np.float32)
        self.last_times = {"preprocess": (t1 - t0) * 1000, "inference": (t2 - t1) * 1000}
        return Detections(boxes.astype(np.float32), scores[:n].astype(np.float32), maps[:n].astype(np.float32),
                          (h, w))
