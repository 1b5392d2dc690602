"""The onnxruntime engine: one call per frame, frame in, `Result` out.

It resizes the frame to the graph's input, runs the S4Net graph and returns the instances in frame
coordinates with the stage timings (contracts.postprocess, shared with the evaluator). Masks stay
as the graph's small whole-frame probability maps until the result pastes the full-resolution mask
inside each box (refined along the frame's edges unless refine is off).
"""
import glob
import importlib.util
import os
import shutil
import time

import numpy as np

from assets import ASSETS_DIR
from contracts import graph as G
from contracts.postprocess import graph_input, to_frame

from .errors import EngineError, first_line
from .results import Result

DEFAULT_MODEL = os.path.join(ASSETS_DIR, "s4net.onnx")
FP16_SUFFIX = ".fp16.onnx"   # the GPU graph (float16, larger mask path, flip): the default on CUDA
INT8_SUFFIX = ".int8.onnx"   # the same model with int8 convolutions: the default on the CPU, when shipped
CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"


def has_nvidia_gpu():
    """An NVIDIA driver is installed and sees a GPU (device node or nvidia-smi present)."""
    return bool(glob.glob("/dev/nvidia[0-9]*")) or shutil.which("nvidia-smi") is not None


def cuda_failure_reason(available):
    if not has_nvidia_gpu():
        return "no NVIDIA GPU"
    if CUDA not in available:
        return "this onnxruntime build has no CUDA provider (install onnxruntime-gpu)"
    return "the CUDA provider did not start (CUDA/cuDNN libraries missing: pip install 'onnxruntime-gpu[cuda,cudnn]')"


class Engine:
    def __init__(self, model_path=None, device="auto", score_threshold=None, max_instances=None,
                 threads=0, log=print):
        import onnxruntime as ort
        explicit = model_path is not None
        model_path = model_path or DEFAULT_MODEL
        if device not in ("auto", "cuda", "cpu"):
            raise EngineError(f"unknown device {device!r} (auto, cuda or cpu)")
        if os.path.isdir(model_path):
            raise EngineError(f"model is a folder, not an ONNX file: {model_path}")
        if not os.path.isfile(model_path):
            raise EngineError(f"model file not found: {model_path}")
        available = ort.get_available_providers()
        # auto tries CUDA only where a GPU could run it; elsewhere it is plainly the CPU
        want_cuda = device == "cuda" or (device == "auto" and CUDA in available and has_nvidia_gpu())
        fp32_path = model_path
        cpu_path = fp32_path
        if not explicit and os.path.isfile(model_path[:-5] + INT8_SUFFIX):
            cpu_path = model_path[:-5] + INT8_SUFFIX  # int8 convolutions: faster on x86 CPUs, same instances
        if want_cuda and not explicit and os.path.isfile(model_path[:-5] + FP16_SUFFIX):
            model_path = model_path[:-5] + FP16_SUFFIX  # the float16 graph is for GPUs
        elif not want_cuda:
            model_path = cpu_path
        opts = ort.SessionOptions()
        opts.log_severity_level = 3  # the provider fallback is reported by us, in one line
        # no busy-waiting between runs: the app's decode, draw and encode threads need those cores
        # (measured: the video command 9% faster on 2 cores)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            opts.intra_op_num_threads = threads
        providers = [CPU]
        if want_cuda:
            # onnxruntime logs a page of errors when the CUDA provider cannot load; we report the
            # outcome ourselves in one line, from the session's actual providers
            ort.set_default_logger_severity(4)
            if hasattr(ort, "preload_dlls") and importlib.util.find_spec("nvidia") is not None:
                ort.preload_dlls()  # CUDA/cuDNN from the pip packages of onnxruntime-gpu[cuda,cudnn]
            providers = [(CUDA, {"cudnn_conv_algo_search": "HEURISTIC", "do_copy_in_default_stream": "1"}), CPU]
        self.model_path = model_path
        self.session = self._open(ort, model_path, opts, providers)
        self.provider = self.session.get_providers()[0]
        if want_cuda and self.provider != CUDA:
            reason = cuda_failure_reason(available)
            if device == "cuda":
                raise EngineError(f"CUDA was requested but the session runs on {self.provider}: {reason}")
            log(f"running on the CPU: {reason}")
            if model_path != cpu_path:  # float16 is slower than float32 on the CPU provider
                self.model_path = cpu_path
                self.session = self._open(ort, cpu_path, opts, [CPU])
                self.provider = self.session.get_providers()[0]
        self.meta = meta = self._check_graph()
        self.input_size = int(meta[G.META_INPUT_SIZE])
        self.score_threshold = float(meta.get(G.META_THRESHOLD, 0.5)) if score_threshold is None \
            else float(score_threshold)
        self.max_instances = int(meta.get(G.META_MAX_DETECTIONS, 20)) if max_instances is None \
            else int(max_instances)
        self.precision = meta.get(G.META_PRECISION, "float32")
        self._binding = self.session.io_binding() if self.provider == CUDA else None
        if device == "auto" and self.provider == CPU and not want_cuda:
            log("running on the CPU" + ("" if has_nvidia_gpu() else " (no NVIDIA GPU)"))
        self.warm_up()

    @staticmethod
    def _open(ort, path, opts, providers):
        try:
            return ort.InferenceSession(path, opts, providers=providers)
        except Exception as e:
            raise EngineError(f"{path} is not a loadable ONNX model ({first_line(e)})") from None

    def _check_graph(self):
        meta = self.session.get_modelmeta().custom_metadata_map
        problem = G.contract_problem([i.name for i in self.session.get_inputs()],
                                     [o.name for o in self.session.get_outputs()], meta) or G.metadata_problem(meta)
        if problem:
            raise EngineError(f"{self.model_path} is not an S4Net graph of this app ({problem})")
        return meta

    def describe(self):
        return (f"{os.path.basename(self.model_path)} ({self.meta.get(G.META_BACKBONE, '?')}, {self.precision}, "
                f"{self.input_size}px) on {self.provider}")

    def warm_up(self, runs=2):
        """A few runs on a blank picture (the first runs are slow), the first one checked."""
        blank = np.zeros((self.input_size, self.input_size, 3), np.uint8)
        try:
            outputs = self._run_graph(blank[None], 0.0)
        except Exception as e:  # onnxruntime's errors have no common base class
            raise EngineError(f"{self.model_path} does not run ({first_line(e)})") from None
        problem = G.outputs_problem(*(np.asarray(o) for o in outputs), self.input_size)
        if problem:
            raise EngineError(f"{self.model_path} is not an S4Net graph of this app ({problem})")
        for _ in range(runs - 1):
            self.run(blank)

    def _run_graph(self, image, threshold=None):
        feed_thr = np.array([self.score_threshold if threshold is None else threshold], np.float32)
        if self._binding is None:
            return self.session.run(None, {G.INPUT_IMAGE: image, G.INPUT_THRESHOLD: feed_thr})
        b = self._binding
        b.bind_cpu_input(G.INPUT_IMAGE, image)
        b.bind_cpu_input(G.INPUT_THRESHOLD, feed_thr)
        for name in G.OUTPUTS:
            b.bind_output(name, "cpu")  # sizes are dynamic: let onnxruntime allocate on the host
        self.session.run_with_iobinding(b)
        return b.copy_outputs_to_cpu()

    @classmethod
    def for_settings(cls, settings, log=print, threads=0):
        """The engine that app.settings.Settings name (model, device, instance limit); threads: the
        graph's CPU threads (0: one a core)."""
        return cls(settings.model, settings.device, max_instances=settings.max_instances, threads=threads, log=log)

    def run(self, frame_bgr, threshold=None, refine=True, reduced=None):
        """Frame (H,W,3) uint8 BGR -> Result in frame coordinates, timed as 'preprocess' and 'inference'.
        threshold: the graph's score cut for this frame (default: score_threshold, the model's; the
        tracker asks for a lower one, to continue its tracks with weaker detections). refine: the
        result's masks follow the frame's edges (contracts.refine). reduced: the same frame already
        halved (the live window's working picture), from which the graph's input is made: the same
        pixels, one resize less."""
        if not isinstance(frame_bgr, np.ndarray) or frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 \
                or frame_bgr.dtype != np.uint8 or 0 in frame_bgr.shape:
            got = f"a {frame_bgr.dtype} array of shape {frame_bgr.shape}" if isinstance(frame_bgr, np.ndarray) \
                else f"a {type(frame_bgr).__name__}"
            raise EngineError(f"a frame must be an HxWx3 uint8 BGR image (a numpy array), not {got}")
        t0 = time.perf_counter()
        image = graph_input(frame_bgr if reduced is None else reduced, self.input_size)
        t1 = time.perf_counter()
        boxes, scores, maps = self._run_graph(image, self.score_threshold if threshold is None else threshold)
        t2 = time.perf_counter()
        found = to_frame(boxes, scores, maps, frame_bgr.shape[:2], self.input_size, self.max_instances)
        return Result(frame_bgr, found.boxes, found.scores, found.maps,
                      timings={"preprocess": (t1 - t0) * 1000, "inference": (t2 - t1) * 1000},
                      refine=refine)
