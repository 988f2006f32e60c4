"""The fused CPU selective-scan kernel: compiled from C at first use, cached, loaded with ctypes.

The source is ``csrc/selective_scan_cpu.c`` (plain C, no Python or torch
headers). :func:`kernel` returns the loaded library, building it the first time:

1. the compiler is ``$CC`` (may include arguments, e.g. ``"ccache gcc"``), else
   the first of ``cc``, ``gcc``, ``clang`` on the PATH;
2. the library lives in ``cache_dir()/ssm_kernel/<key>/selective_scan_cpu.so``,
   ``<key>`` a hash of the source, the flags, the compiler's ``--version`` and
   the machine (architecture and CPU flags: ``-march=native`` code must not be
   shared between CPUs), so a changed source, compiler or CPU gets its own build;
3. it is compiled (``-O3 -march=native``, no ``-ffast-math``; a second flag set
   without ``-march=native`` for compilers that lack it) to a temporary name in
   that folder and moved into place with ``os.replace``: processes racing to
   build it each write their own file and the last rename wins, intact;
4. a cached file that does not load (corrupt, truncated, foreign) is removed
   and rebuilt once; the loaded library must report the expected ABI version
   and pass a tiny known-value check.

Any failure (no compiler, compile error, load error, Windows) is never raised:
:func:`kernel` returns None, :func:`unavailable_reason` says why, and one
``RuntimeWarning`` is issued; callers fall back to the pure-PyTorch scan.
``MEMAMBA_CPU_KERNEL=0`` switches the kernel off. The outcome is remembered per
(cache folder, ``$CC``), so changing either (as the tests do) tries again.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import math
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..paths import CACHE_ENV, cache_dir

__all__ = ["KERNEL_ENV", "SSArgs", "ConvArgs", "kernel", "require_kernel", "unavailable_reason", "library_path"]

KERNEL_ENV = "MEMAMBA_CPU_KERNEL"  # "0" switches the fused kernel off
SOURCE = Path(__file__).with_name("csrc") / "selective_scan_cpu.c"
ABI_VERSION = 2  # SS_ABI_VERSION in the C source; bump both when ss_args changes
LIBRARY_NAME = "selective_scan_cpu.so"
FLAG_SETS = (
    ("-O3", "-march=native", "-std=gnu11", "-fPIC", "-shared", "-Wno-psabi"),
    ("-O3", "-std=gnu11", "-fPIC", "-shared", "-Wno-psabi"),  # compilers without -march=native
)
COMPILE_TIMEOUT_S = 120

_i64, _f32p = ctypes.c_int64, ctypes.POINTER(ctypes.c_float)


def _stream(name: str, channel_stride: bool = False) -> list[tuple[str, type]]:
    """A stream's pointer and its strides (time, batch[, channel]) in elements."""
    return [(name, _f32p), (f"{name}_t", _i64), (f"{name}_b", _i64)] + ([(f"{name}_e", _i64)] if channel_stride else [])


class SSArgs(ctypes.Structure):
    """Mirror of ``ss_args`` in the C source (same field order and types)."""

    _fields_ = (
        [(n, _i64) for n in ("L", "B", "E", "S", "T", "e0", "e1")]
        + _stream("u", True)
        + _stream("delta", True)
        + _stream("z", True)
        + _stream("Bm")
        + _stream("Cm")
        + [("A", _f32p), ("A2", _f32p), ("D", _f32p), ("bias", _f32p), ("softplus", _i64)]
        + _stream("y")
        + [("h", _f32p), ("ckpt", _f32p)]
        + _stream("gy")
        + _stream("gu")
        + _stream("gdelta")
        + _stream("gz")
        + _stream("gB")
        + _stream("gC")
        + [("gA", _f32p), ("gD", _f32p), ("gbias", _f32p)]
    )


class ConvArgs(ctypes.Structure):
    """Mirror of ``conv_args`` in the C source."""

    _fields_ = [(n, _i64) for n in ("n", "E", "K", "e0", "e1")] + [
        ("x", _f32p),
        ("x_t", _i64),
        ("carry", _f32p),
        ("w", _f32p),
        ("bias", _f32p),
        ("out", _f32p),
        ("out_t", _i64),
    ]


@dataclass(frozen=True)
class _Outcome:
    lib: ctypes.CDLL | None
    reason: str | None  # why there is no library


_lock = threading.Lock()
_outcomes: dict[tuple[str | None, str | None], _Outcome] = {}


def kernel() -> ctypes.CDLL | None:
    """The loaded kernel library, built on first use; None when it cannot be had (see :func:`unavailable_reason`)."""
    return _outcome().lib


def require_kernel() -> ctypes.CDLL:
    """The loaded kernel library; RuntimeError saying why when there is none."""
    outcome = _outcome()
    if outcome.lib is None:
        raise RuntimeError(f"the fused CPU scan kernel is unavailable: {outcome.reason}")
    return outcome.lib


def unavailable_reason() -> str | None:
    """Why the fused kernel is not available (None when it is)."""
    return _outcome().reason


def library_path() -> Path | None:
    """Where the library for this machine and compiler is (or would be) cached; None without a compiler."""
    cc = _compiler()
    if cc is None:
        return None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        return _path_for(cc, _compiler_version(cc), FLAG_SETS[0])
    return None


def _outcome() -> _Outcome:
    if os.environ.get(KERNEL_ENV, "").strip() == "0":
        return _Outcome(None, f"disabled by {KERNEL_ENV}=0")
    key = (os.environ.get(CACHE_ENV), os.environ.get("CC"))
    found = _outcomes.get(key)
    if found is not None:
        return found
    with _lock:
        if key not in _outcomes:
            outcome = _build_and_load()
            if outcome.lib is None:
                warnings.warn(
                    f"The fused CPU selective-scan kernel is unavailable ({outcome.reason}); "
                    "using the pure-PyTorch scan (slower).",
                    RuntimeWarning,
                    stacklevel=4,
                )
            _outcomes[key] = outcome
        return _outcomes[key]


def _compiler() -> list[str] | None:
    env = os.environ.get("CC", "").strip()
    if env:
        return shlex.split(env)
    for name in ("cc", "gcc", "clang"):
        if shutil.which(name):
            return [name]
    return None


def _compiler_version(cc: list[str]) -> str:
    proc = subprocess.run([*cc, "--version"], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise subprocess.SubprocessError(f"'{' '.join(cc)} --version' exited with {proc.returncode}")
    return proc.stdout.strip()


def _machine() -> str:
    """Architecture and CPU identity (model and feature flags), for the cache key."""
    parts = [platform.system(), platform.machine(), platform.processor()]
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":")[0].strip() in ("model name", "flags", "Features", "CPU part"):
                parts.append(line)
            if line.strip() == "":  # the first processor is enough
                break
    return "\n".join(parts)


def _path_for(cc: list[str], version: str, flags: tuple[str, ...]) -> Path:
    h = hashlib.sha256()
    parts = (SOURCE.read_bytes(), " ".join(flags).encode(), " ".join(cc).encode(), version.encode(), _machine().encode())
    for part in parts:
        h.update(part)
        h.update(b"\0")
    return cache_dir() / "ssm_kernel" / h.hexdigest()[:16] / LIBRARY_NAME


def _compile(cc: list[str], flags: tuple[str, ...], path: Path) -> str | None:
    """Compile into ``path`` atomically; returns an error message or None."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        proc = subprocess.run(
            [*cc, *flags, "-o", tmp, str(SOURCE), "-lm"], capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S
        )
        if proc.returncode != 0:
            tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
            return f"'{' '.join(cc)}' failed with exit code {proc.returncode}: {tail}"
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
        return None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _open(path: Path) -> ctypes.CDLL:
    """Load and check the library (ABI version, a known-value scan); raises OSError when it is unusable."""
    lib = ctypes.CDLL(str(path))
    lib.ss_abi_version.restype = ctypes.c_int64
    lib.ss_abi_version.argtypes = []
    for fn in (lib.ss_forward, lib.ss_backward):
        fn.restype = ctypes.c_int64
        fn.argtypes = [ctypes.POINTER(SSArgs)]
    lib.ss_conv_silu.restype = ctypes.c_int64
    lib.ss_conv_silu.argtypes = [ctypes.POINTER(ConvArgs)]
    lib.ss_advise_huge.restype = ctypes.c_int64
    lib.ss_advise_huge.argtypes = [ctypes.c_void_p, ctypes.c_int64]
    if lib.ss_abi_version() != ABI_VERSION:
        raise OSError(f"ABI version {lib.ss_abi_version()} != {ABI_VERSION}")
    _check(lib)
    return lib


def _check(lib: ctypes.CDLL) -> None:
    """One channel, one state, A = -1, Δ = u = B = C = 1, three steps: y_t = Σ_{k≤t} e^{-k}."""
    n = 3
    ones = (ctypes.c_float * n)(*([1.0] * n))
    a8 = (ctypes.c_float * 8)(-1.0, *([0.0] * 7))
    a2 = (ctypes.c_float * 8)(-1.0 / math.log(2.0), *([0.0] * 7))
    y = (ctypes.c_float * n)()
    args = SSArgs(L=n, B=1, E=1, S=1, T=2, e0=0, e1=1, softplus=0)
    for name in ("u", "delta", "Bm", "Cm"):
        setattr(args, name, ctypes.cast(ones, _f32p))
        setattr(args, f"{name}_t", 1)
    args.u_e = args.delta_e = 1
    args.A, args.A2 = ctypes.cast(a8, _f32p), ctypes.cast(a2, _f32p)
    args.y, args.y_t = ctypes.cast(y, _f32p), 1
    if lib.ss_forward(ctypes.byref(args)) != 0:
        raise OSError("the check scan reported an error")
    expected = [sum(math.exp(-k) for k in range(t + 1)) for t in range(n)]
    if any(abs(a - b) > 1e-5 for a, b in zip(y, expected)):
        raise OSError(f"the check scan gave {list(y)} instead of {expected}")


def _build_and_load() -> _Outcome:
    if os.name == "nt":
        return _Outcome(None, "not built on Windows")
    if not SOURCE.is_file():
        return _Outcome(None, f"kernel source {SOURCE} is missing")
    cc = _compiler()
    if cc is None:
        return _Outcome(None, "no C compiler found (set CC, or install gcc or clang)")
    try:
        version = _compiler_version(cc)
    except (OSError, subprocess.SubprocessError) as err:
        return _Outcome(None, f"C compiler '{' '.join(cc)}' does not run: {err}")
    errors = []
    for flags in FLAG_SETS:
        try:
            path = _path_for(cc, version, flags)
        except OSError as err:
            return _Outcome(None, f"cache folder unusable: {err}")
        for attempt in range(2):
            if not path.is_file():
                try:
                    error = _compile(cc, flags, path)
                except (OSError, subprocess.SubprocessError) as err:
                    error = f"'{' '.join(cc)}' could not compile: {err}"
                if error:
                    errors.append(error)
                    break
            try:
                return _Outcome(_open(path), None)
            except (OSError, AttributeError) as err:
                if attempt:  # freshly built and still unusable
                    errors.append(f"built library {path} does not load: {err}")
                    break
                with contextlib.suppress(FileNotFoundError):  # a stale or corrupt cache entry: rebuild once
                    path.unlink()
    return _Outcome(None, "; ".join(errors) or "unknown error")
