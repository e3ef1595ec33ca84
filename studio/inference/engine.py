"""Engine: onnxruntime sessions, created once per model, warmed up, on the best provider that works.

The GPU is a bonus, never a requirement: any CUDA failure (missing libraries, no device, out of
memory mid-run) falls back to the CPU with a notice the UI can show, and the run still succeeds.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import os
import re
import sys
import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort

from studio.inference.manifest import ModelError

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
DEVICES = ("auto", "cpu", "cuda")
_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(uint8)": np.uint8,
}
# Exhaustive cuDNN search picks kernels by timing, so two runs could differ; the heuristic is stable.
_CUDA_OPTIONS = {"cudnn_conv_algo_search": "DEFAULT"}
SPINNING = "session.intra_op.allow_spinning"
_GPU_FAILURE_WORDS = ("cuda", "cudnn", "cublas", "out of memory", "oom", "device", "gpu")


def _session_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = os.cpu_count() or 1
    options.log_severity_level = 3  # onnxruntime's own warnings go to stderr, not through logging
    options.use_deterministic_compute = True  # re-renders from history must match bit for bit
    # After a run, onnxruntime's pool threads spin-wait for the next one. A live sound frame runs
    # the sound encoder and then the generator: each session's spinning threads took the cores
    # from the other, making a frame 2.5-3x slower on 2 cores (docs/benchmarks.md). Off, they sleep.
    options.add_session_config_entry(SPINNING, "0")
    return options


def _dummy_feeds(session: ort.InferenceSession) -> dict[str, np.ndarray]:
    """A batch of one with small dynamic dims: enough to make the provider allocate and compile."""
    feeds = {}
    for arg in session.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else (1 if i == 0 else 8) for i, d in enumerate(arg.shape)]
        dtype = _DTYPES.get(arg.type, np.float32)
        feeds[arg.name] = (
            np.ones(shape, dtype=dtype) if np.issubdtype(dtype, np.integer) else np.zeros(shape, dtype)
        )
    return feeds


class Engine:
    """Creates and caches sessions; `provider` is the one really in use, `notices` say why if not the GPU."""

    def __init__(self, device: str = "auto") -> None:
        if device not in DEVICES:
            raise ModelError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
        self.device = device
        self._lock = threading.Lock()
        self._sessions: dict[Path, ort.InferenceSession] = {}
        self._gpu_twins: dict[Path, Path] = {}  # fp32 model → its fp16 file, used on CUDA only
        self._notices: list[str] = []
        self._cuda_ok = device != "cpu"
        self.cpu_reason = "the CPU was chosen in Settings" if device == "cpu" else ""
        if self._cuda_ok and CUDA not in ort.get_available_providers():
            self._cuda_ok = False
            self.cpu_reason = "this onnxruntime has no CUDA support"
            if device == "cuda":
                self._notice(f"CUDA not available ({self.cpu_reason}); running on CPU")
        elif device == "auto" and not _nvidia_gpu_present():
            # nothing to tell on a machine without an NVIDIA GPU: the status bar says "CPU"
            self._cuda_ok = False
            self.cpu_reason = "no NVIDIA GPU found"
            log.info("%s; running on CPU", self.cpu_reason)
        elif self._cuda_ok and (problem := _cuda_library_problem()):
            self._cuda_failed(problem)
        self.provider = CUDA if self._cuda_ok else CPU

    def use_fp16_on_gpu(self, path: Path | str, twin: Path | str) -> None:
        """Run `twin` (same inputs and outputs in fp16) whenever `path` gets a CUDA session; the CPU
        (also after a GPU failure) keeps the fp32 file."""
        self._gpu_twins[Path(path).resolve()] = Path(twin).resolve()

    @property
    def notices(self) -> list[str]:
        return list(self._notices)

    def drain_notices(self) -> list[str]:
        """Notices since the last call, for a status bar or CLI to show once."""
        with self._lock:
            notices, self._notices = self._notices, []
        return notices

    def _notice(self, text: str) -> None:
        log.warning(text)
        self._notices.append(text)

    def session(self, path: Path | str) -> ort.InferenceSession:
        """The cached session for a model file, created and warmed up on first use."""
        path = Path(path).resolve()
        with self._lock:
            session = self._sessions.get(path)
            if session is None:
                session = self._create(path)
                self._sessions[path] = session
            return session

    def run(self, path: Path | str, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run a model; a GPU failure rebuilds the session on the CPU and retries once."""
        path = Path(path).resolve()
        session = self.session(path)
        try:
            return self._run(session, feeds)
        except Exception as exc:
            if CUDA not in session.get_providers() or not _looks_like_gpu_failure(exc):
                raise ModelError(f"{path.name} failed to run: {_first_line(exc)}") from exc
            with self._lock:
                self._cuda_ok = False
                self._notice(f"CUDA failed ({_first_line(exc)}); using CPU")
                session = self._create(path)
                self._sessions[path] = session
            try:
                return self._run(session, feeds)
            except Exception as retry_exc:
                raise ModelError(f"{path.name} failed to run: {_first_line(retry_exc)}") from retry_exc

    @staticmethod
    def _run(session: ort.InferenceSession, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(names, feeds), strict=True))

    def _create(self, path: Path) -> ort.InferenceSession:
        """Called with the lock held. Tries CUDA once per engine; after a failure everything uses CPU."""
        if not path.is_file():
            raise ModelError(f"model file {path} is missing")
        if self._cuda_ok:
            try:
                session = self._build(self._gpu_twins.get(path, path), [(CUDA, _CUDA_OPTIONS), CPU])
            except ModelError:
                raise
            except Exception as exc:
                self._cuda_failed(_first_line(exc))
            else:
                if CUDA in session.get_providers():
                    self.provider = CUDA
                    return session
                self._cuda_failed("the CUDA provider did not load; no GPU or CUDA libraries found")
        session = self._build(path, [CPU])
        self.provider = session.get_providers()[0]
        return session

    def _cuda_failed(self, reason: str) -> None:
        self._cuda_ok = False
        self.provider = CPU
        self.cpu_reason = reason
        self._notice(f"CUDA not available ({reason}); running on CPU")

    def _build(self, path: Path, providers: list[str | tuple[str, dict[str, str]]]) -> ort.InferenceSession:
        try:
            session = ort.InferenceSession(str(path), sess_options=_session_options(), providers=providers)
        except Exception as exc:
            if providers != [CPU] and _looks_like_gpu_failure(exc):
                raise
            text = _first_line(exc)
            custom = "domain" in text.lower() or "not a registered function/op" in text
            hint = " (it uses custom operators onnxruntime does not have)" if custom else ""
            raise ModelError(f"{path.name}: onnxruntime cannot load it{hint}: {text}") from exc
        try:
            session.run(None, _dummy_feeds(session))
        except Exception as exc:
            if providers != [CPU] and _looks_like_gpu_failure(exc):
                raise
            raise ModelError(f"{path.name}: warm-up run failed: {_first_line(exc)}") from exc
        log.info("session for %s on %s", path.name, session.get_providers()[0])
        return session


def _nvidia_gpu_present() -> bool:
    """An NVIDIA driver is loaded (Linux), so a missing CUDA library is worth a notice. Elsewhere
    we cannot tell cheaply and assume there may be one."""
    if not sys.platform.startswith("linux"):
        return True
    return Path("/proc/driver/nvidia/version").exists() or any(Path("/dev").glob("nvidia[0-9]*"))


def _cuda_library_problem() -> str | None:
    """Why the CUDA provider library cannot load (e.g. a missing libcublas), found without a session.

    onnxruntime would print a multi-line error to stderr and quietly use the CPU; loading the
    library ourselves gives a one-line reason for the notice. Linux only: elsewhere the session
    attempt decides.
    """
    if not sys.platform.startswith("linux"):
        return None
    library = Path(ort.__file__).parent / "capi" / "libonnxruntime_providers_cuda.so"
    if not library.is_file():
        return "this onnxruntime has no CUDA provider library"
    _preload_pip_cuda_libraries()
    try:
        ctypes.CDLL(str(library))
    except OSError as exc:
        missing = str(exc).split(":")[0]
        if "cannot open shared object file" in str(exc):
            return f"no GPU libraries installed ({missing} not found)"
        return str(exc)
    return None


def _preload_pip_cuda_libraries() -> None:
    """Load CUDA/cuDNN from the nvidia-* pip packages (`pip install onnxruntime-gpu[cuda,cudnn]`),
    which are not on the loader's search path; without this the CUDA provider fails to load on
    machines that have the libraries only that way. onnxruntime prints what it cannot find: that
    goes to the log, the one-line reason comes from loading the provider next."""
    preload = getattr(ort, "preload_dlls", None)
    if preload is None:
        return
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            preload(directory="")
    except Exception as exc:  # a broken nvidia package must not stop the CPU path
        log.info("preloading CUDA libraries failed: %s", exc)
    if printed.getvalue().strip():
        log.info("preloading CUDA libraries: %s", printed.getvalue().strip())


def _looks_like_gpu_failure(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(word in text for word in _GPU_FAILURE_WORDS)


def _first_line(exc: Exception) -> str:
    """onnxruntime's message without its error-code prefix and C++ source location."""
    text = str(exc).strip() or type(exc).__name__
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
    text = re.sub(r"/onnxruntime_src/\S+ (?:\S+ )?onnxruntime::.*?\) (?=[A-Z])", "", text)
    return text.splitlines()[0][:300]
