"""The demo built in a background process, so that a first start answers at once.

:func:`start_build` starts ``python -m memamba_core.demo`` in its own session
(it outlives the page, the browser and the server that started it) unless one
runs already. That process (:func:`run_build`):

1. prepares the demo folder with the shipped tables (:func:`~memamba_core.demo.folder.prepare_demo`):
   within seconds the folder loads as a cohort — every patient, genomics, clinical
   columns — with pathology for the slides built so far;
2. reuses or copies the demo checkpoint when one matches the generator (the shipped
   run, ``memamba_core.train.ensure_demo_model``), so its out-of-fold predictions are there too;
3. builds the slides in worker processes (:func:`~memamba_core.demo.build.ensure_demo`);
4. trains the checkpoint when none matched (minutes).

It records where it is in ``cache_dir()/.demo-<profile>.status.json``
(atomically, after each slide) and writes its output to
``.demo-<profile>.build.log``; :func:`build_status` reads both. One builder runs
per profile: it holds ``.demo-<profile>.builder.lock`` for its lifetime, which
also tells whether a recorded build is still alive. What the builder writes is
byte-identical to a build in the calling process (``tests/test_demo_start.py``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..paths import atomic_write_text, cache_dir
from .profiles import DemoProfile, get_profile

__all__ = ["BuildStatus", "build_status", "run_build", "start_build"]

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding memamba_core, for the child's imports
_CHILDREN: dict[str, subprocess.Popen] = {}  # builders this process started (reaped when their status is read)


@dataclass(frozen=True)
class BuildStatus:
    """Where the demo of ``profile`` stands.

    ``state``: ``absent`` (nothing usable: start a build), ``building``, ``ready``
    or ``failed`` (``error`` says why, ``log`` is the build's output).
    ``tables``: the cohort folder ``cohort`` loads (complete, or the shipped
    tables are in place); ``model``: the demo run folder once it is there.
    """

    profile: str
    state: str
    cohort: str
    fraction: float = 0.0
    message: str = ""
    tables: bool = False
    model: str | None = None
    slides_done: int = 0
    n_slides: int = 0
    started: float | None = None
    updated: float | None = None
    error: str | None = None
    log: str | None = None
    spec: dict | None = None

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def eta_s(self) -> float | None:
        """Seconds left at the pace so far (None until 5 % is done)."""
        if self.state != "building" or self.started is None or self.updated is None or self.fraction < 0.05:
            return None
        return max(0.0, (self.updated - self.started) * (1.0 - self.fraction) / self.fraction)


def _files(p: DemoProfile) -> tuple[Path, Path, Path]:
    base = cache_dir()
    return (base / f".demo-{p.name}.status.json", base / f".demo-{p.name}.builder.lock", base / f".demo-{p.name}.build.log")


@contextlib.contextmanager
def _builder_lock(p: DemoProfile) -> Iterator[bool]:
    """Try to become the builder of ``p``: yields True while held, False when another process holds it."""
    with open(_files(p)[1], "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _builder_running(p: DemoProfile) -> bool:
    with _builder_lock(p) as mine:
        return not mine


def _tail(path: Path, n: int = 20) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def build_status(profile: str | DemoProfile = "full", *, need_model: bool = True) -> BuildStatus:
    """The demo's state from the builder's record (see :class:`BuildStatus`); reads files only.

    ``need_model``: whether the caller needs the demo checkpoint too (a cohort
    built without it is then ``absent``).
    """
    from .folder import demo_dir, demo_spec, is_complete

    p = get_profile(profile)
    status_file, _, log = _files(p)
    child = _CHILDREN.get(p.name)
    spec, root = demo_spec(p), demo_dir(p)
    try:
        rec = json.loads(status_file.read_text())
    except (OSError, ValueError):
        rec = None
    fields = {f.name for f in dataclasses.fields(BuildStatus)}
    st = BuildStatus(**{k: v for k, v in rec.items() if k in fields}) if isinstance(rec, dict) else None
    if st is None or st.spec != spec:
        st = BuildStatus(p.name, "absent", str(root), tables=is_complete(root, p), spec=spec)
    running = child is not None and child.poll() is None or _builder_running(p)  # our child may not hold the lock yet
    if st.state == "building" and not running:
        st = dataclasses.replace(st, state="failed", error=st.error or "the build process ended before finishing",
                                 log=_tail(log))
    elif st.state == "failed":
        st = dataclasses.replace(st, log=_tail(log))
    elif st.state == "ready" and not (is_complete(root, p) and (not need_model or (st.model and Path(st.model).is_dir()))):
        st = dataclasses.replace(st, state="absent", model=None)
    if st.state in ("absent", "failed") and running:
        st = dataclasses.replace(st, state="building", message=st.message or "starting…")
    if st.state == "absent" and is_complete(root, p):  # built without the builder (a library call, an older start)
        model = None
        if need_model:
            from ..train.demo_model import ready_demo_model

            model = ready_demo_model(p.name)
        if model is not None or not need_model:
            st = dataclasses.replace(st, state="ready", tables=True, fraction=1.0,
                                     model=None if model is None else str(model))
    return st


def start_build(profile: str | DemoProfile = "full", *, model: bool = True, workers: int | None = None) -> BuildStatus:
    """Start the background builder of ``profile`` unless one runs; returns the status right after.

    ``model``: also make the demo checkpoint; ``workers``: slide processes (default: the profile's).
    """
    p = get_profile(profile)
    status_file, _, log = _files(p)
    child = _CHILDREN.get(p.name)
    if (child is None or child.poll() is not None) and not _builder_running(p):  # poll() also reaps a finished child
        from .folder import demo_dir, demo_spec

        cmd = [sys.executable, "-m", "memamba_core.demo", "--profile", p.name]
        cmd += ([] if model else ["--no-model"]) + ([] if workers is None else ["--workers", str(workers)])
        path = os.pathsep.join(x for x in (str(_PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")) if x)
        now = time.time()
        atomic_write_text(status_file, json.dumps(dataclasses.asdict(BuildStatus(
            p.name, "building", str(demo_dir(p)), message="starting the build process…", started=now, updated=now,
            spec=demo_spec(p)))))
        with open(log, "ab") as out:
            _CHILDREN[p.name] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                 start_new_session=True, cwd=str(cache_dir()),
                                                 env={**os.environ, "PYTHONPATH": path})
    return build_status(p, need_model=model)


class _Recorder:
    """Writes the builder's :class:`BuildStatus` record (atomically) as the build goes."""

    def __init__(self, p: DemoProfile, spec: dict, root: Path, share: float):
        self.p, self.share = p, share  # share: the part of the whole job the cohort build takes (the rest: training)
        now = time.time()
        self.status = BuildStatus(p.name, "building", str(root), message="preparing the demo folder", started=now,
                                  updated=now, n_slides=p.n_patients, spec=spec)
        self.write()

    def write(self, **changes) -> None:
        self.status = dataclasses.replace(self.status, updated=time.time(), **changes)
        atomic_write_text(_files(self.p)[0], json.dumps(dataclasses.asdict(self.status)))

    def cohort_progress(self, fraction: float, message: str) -> None:
        from .slide_job import slides_done

        self.write(fraction=self.share * min(max(float(fraction), 0.0), 1.0), message=message,
                   slides_done=slides_done(Path(self.status.cohort)))

    def training_progress(self, records: list[dict]) -> None:
        from ..app.runs import run_progress

        frac, msg = run_progress(records)
        self.write(fraction=self.share + (1.0 - self.share) * frac, message=f"training the demo checkpoint: {msg}")


def _model_matches(profile: str, spec: dict) -> bool:
    """Whether a cached or shipped demo checkpoint was made for ``spec`` (then no training is needed)."""
    from ..runs import read_demo_spec
    from ..train.demo_model import demo_model_dir, shipped_demo_model

    return any(read_demo_spec(run) == spec for run in (demo_model_dir(profile), shipped_demo_model(profile)))


def run_build(profile: str | DemoProfile = "full", *, model: bool = True, workers: int | None = None) -> int:
    """The builder's work (module doc, steps 1–4), recording its status; exit code 0 (also when another builder runs)."""
    from .build import ensure_demo
    from .folder import demo_spec, prepare_demo

    p = get_profile(profile)
    with _builder_lock(p) as mine:
        if not mine:
            print(f"demo '{p.name}': another build process is running; nothing to do", flush=True)
            return 0
        spec = demo_spec(p)
        root, loadable = prepare_demo(p)
        quick = not model or _model_matches(p.name, spec)
        rec = _Recorder(p, spec, root, share=1.0 if quick else 0.6)
        try:
            rec.write(tables=loadable, message="cohort tables in place" if loadable else "building the slides first")
            run = None
            if model and quick:
                from ..train.demo_model import ensure_demo_model

                run = ensure_demo_model(p.name)  # reused, or the shipped run copied: no training
                rec.write(model=str(run))
            ensure_demo(p, progress=rec.cohort_progress, workers=workers)
            rec.write(tables=True, fraction=rec.share, slides_done=p.n_patients)
            if model and run is None:
                from ..train.demo_model import ensure_demo_model

                records: list[dict] = []
                run = ensure_demo_model(p.name, on_record=lambda r: (records.append(r), rec.training_progress(records)))
            rec.write(state="ready", fraction=1.0, model=None if run is None else str(run), message="ready")
        except BaseException as err:
            rec.write(state="failed", error=f"{type(err).__name__}: {err}")
            raise
    return 0
