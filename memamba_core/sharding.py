"""Work over many items (slides, patients) sharded across torchrun ranks, each item done by exactly one rank.

    report = run_sharded(keys, work, dist=d, done=is_done, cost=file_sizes, progress=show)

``work(key, tick) -> Outcome`` does one item (and writes its output atomically);
``tick(fraction, message)`` reports progress inside the item. Every rank calls
:func:`run_sharded` with the same arguments; one process (``dist`` None or
``world == 1``) runs everything itself, with no thread and no collective.

* **What is left.** Rank 0 alone asks ``done(key)`` of every key (a rerun skips
  finished items) and broadcasts the pending keys, so every rank plans from the
  same list even while another rank is already writing.
* **Who does what.** :func:`assign_shards`: longest first over ``cost`` (e.g. file
  sizes), each item to the least-loaded rank. Deterministic — the same keys, costs
  and world give the same plan on every rank and every run. A rank works its
  items in key order.
* **Progress.** Each rank keeps a small status (items finished, units such as
  patches, the current item and how far into it). A background thread on every
  rank exchanges the statuses over a gloo group every ``interval`` seconds
  (``all_gather_object``); rank 0 passes them to ``progress`` as a
  :class:`ShardProgress` (per rank and in total). The exchange runs on all ranks
  until all are finished, so no collective ever waits on another rank's long item
  (no process-group timeout, however uneven the items).
* **The end.** The last exchange carries every rank's outcomes: every rank returns
  the same :class:`ShardReport` (done, failed with reasons, per-rank figures), in
  key order — the same report one process gives.
* **Failure.** An item that fails returns ``Outcome(ok=False, detail=why)``:
  recorded, the run goes on. An exception aborts its rank: the others hear of it at
  the next exchange, stop after their current item, and raise
  :class:`ShardAborted`; what was written stays, so rerunning resumes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch.distributed as tdist

from .dist import Dist

__all__ = ["Outcome", "RankProgress", "ShardProgress", "ShardReport", "ShardAborted", "assign_shards", "run_sharded"]

Tick = Callable[[float, str], None]  # tick(fraction of the current item in [0, 1], message)


@dataclass(frozen=True)
class Outcome:
    """What ``work`` did with one item: ``ok``; ``units`` of work (e.g. patches); ``detail`` (why it failed)."""

    ok: bool
    units: int = 0
    detail: str = ""


@dataclass(frozen=True)
class RankProgress:
    """One rank's status: items ``finished`` of ``assigned``, ``units`` so far, ``current`` item and ``fraction`` of it."""

    rank: int
    assigned: int
    finished: int
    units: int
    current: str
    fraction: float
    message: str


@dataclass(frozen=True)
class ShardProgress:
    """The whole run's progress, as rank 0 sees it: every rank's status plus the items skipped as done."""

    ranks: tuple[RankProgress, ...]
    skipped: int
    total: int  # all keys, skipped ones included

    @property
    def fraction(self) -> float:
        """Share of all keys finished (skipped ones count as finished), in [0, 1]."""
        if self.total == 0:
            return 1.0
        busy = sum(r.finished + (r.fraction if r.finished < r.assigned else 0.0) for r in self.ranks)
        return min(1.0, (self.skipped + busy) / self.total)

    @property
    def message(self) -> str:
        """One process: its last message. Several: ``"r0 3/6 · r1 2/6"`` (items finished / assigned per rank)."""
        if len(self.ranks) == 1:
            return self.ranks[0].message
        return " · ".join(f"r{r.rank} {r.finished}/{r.assigned}" for r in self.ranks)


@dataclass
class ShardReport:
    """Every key's fate, in key order: ``done`` / ``skipped`` (already done) / ``failed`` (key → why);
    ``units`` (key → units of a done item); ``owner`` (key → rank that worked it); ``ranks``: per rank
    ``{"rank", "items", "done", "failed", "units", "seconds"}``."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    units: dict[str, int] = field(default_factory=dict)
    owner: dict[str, int] = field(default_factory=dict)
    ranks: list[dict] = field(default_factory=list)


class ShardAborted(RuntimeError):
    """Another rank stopped with an error; this rank stopped after its current item (rerun to resume)."""


def assign_shards(costs: Sequence[float], world: int) -> list[int]:
    """The rank (0 … world-1) of each item: longest first, each to the least-loaded rank.

    Items are taken by descending cost (ties: earlier position first) and each goes to
    the rank with the smallest total cost so far (ties: lowest rank). Equal costs
    reduce to round-robin. Deterministic.

    Example:
        >>> assign_shards([5, 1, 1, 4, 3], 2)  # 5 → r0, 4 → r1, 3 → r1, 1 → r0, 1 → r0: loads 7 and 7
        [0, 0, 0, 1, 1]
    """
    if world < 1:
        raise ValueError(f"world must be at least 1, got {world}")
    load = [0.0] * world
    ranks = [0] * len(costs)
    for i in sorted(range(len(costs)), key=lambda i: (-float(costs[i]), i)):
        r = min(range(world), key=lambda r: (load[r], r))
        ranks[i] = r
        load[r] += float(costs[i])
    return ranks


class _Status:
    """This rank's status, written by the main thread, read by the exchange thread (under a lock)."""

    def __init__(self, rank: int, assigned: int):
        self.lock = threading.Lock()
        self.rank, self.assigned = rank, assigned
        self.finished, self.units, self.current, self.fraction, self.message = 0, 0, "", 0.0, ""
        self.state, self.error = "running", ""  # running | finished | aborted
        self.outcomes: dict[str, Outcome] = {}
        self.t0 = time.perf_counter()
        self.seconds = 0.0

    def progress(self) -> RankProgress:
        with self.lock:
            return RankProgress(self.rank, self.assigned, self.finished, self.units, self.current, self.fraction, self.message)

    def snapshot(self) -> dict:
        """What the exchange sends: the progress, the state, and the outcomes once finished."""
        with self.lock:
            snap = {"progress": RankProgress(self.rank, self.assigned, self.finished, self.units, self.current,
                                             self.fraction, self.message),
                    "state": self.state, "error": self.error, "seconds": self.seconds}
            if self.state != "running":
                snap["outcomes"] = {k: (o.ok, o.units, o.detail) for k, o in self.outcomes.items()}
            return snap


class _Exchange(threading.Thread):
    """Every ``interval`` s: all-gather the ranks' snapshots; rank 0 reports; stop when no rank is running."""

    def __init__(self, group, world: int, status: _Status, interval: float, on_update: Callable[[list[dict]], None] | None):
        super().__init__(name="memamba-shard-exchange", daemon=True)
        self.group, self.world, self.status, self.interval, self.on_update = group, world, status, interval, on_update
        self.wake = threading.Event()
        self.latest: list[dict] | None = None
        self.error: BaseException | None = None
        self.peer_abort: str | None = None

    def run(self) -> None:
        try:
            while True:
                out: list = [None] * self.world
                tdist.all_gather_object(out, self.status.snapshot(), group=self.group)
                self.latest = out
                if self.on_update is not None:
                    self.on_update(out)
                aborted = [s for s in out if s["state"] == "aborted"]
                if aborted:
                    self.peer_abort = f"rank {aborted[0]['progress'].rank} stopped: {aborted[0]['error']}"
                    return
                if all(s["state"] == "finished" for s in out):
                    return
                self.wake.wait(self.interval)
                self.wake.clear()
        except BaseException as err:  # a peer vanished mid-exchange: the main thread raises it
            self.error = err


def _plan(keys: list[str], done, cost, d: Dist, group) -> tuple[list[str], list[float]]:
    """(pending keys, their costs), as rank 0 sees them, on every rank."""
    plan = None
    if d.is_main:
        costs = [0.0] * len(keys) if cost is None else [float(c) for c in cost]
        keep = [i for i, k in enumerate(keys) if done is None or not done(k)]
        plan = ([keys[i] for i in keep], [costs[i] for i in keep])
    if d.active:
        box = [plan]
        tdist.broadcast_object_list(box, src=0, group=group)
        plan = box[0]
    return plan


def run_sharded(
    keys: Sequence[str],
    work: Callable[[str, Tick], Outcome],
    *,
    dist: Dist | None = None,
    done: Callable[[str], bool] | None = None,
    cost: Sequence[float] | None = None,
    progress: Callable[[ShardProgress], None] | None = None,
    interval: float = 1.0,
) -> ShardReport:
    """Run ``work`` on every pending key, each on exactly one rank; the same report on every rank.

    Args:
        keys: unique item names (e.g. slide ids), in the order the report lists them.
        work: ``work(key, tick) -> Outcome``; writes its own output (atomically).
        dist: this process's place in the group (None: one process).
        done: ``done(key)`` — already finished, skip (asked on rank 0 only).
        cost: one number per key for balancing (e.g. file size); None: round-robin.
        progress: called with a :class:`ShardProgress` on rank 0 (one process: after every tick).
        interval: seconds between status exchanges when several ranks run.

    Raises:
        ShardAborted: another rank stopped with an error (this rank's finished items are kept).
    """
    d = dist or Dist()
    keys = list(keys)
    if len(set(keys)) != len(keys):
        raise ValueError("run_sharded: keys must be unique")
    if cost is not None and len(cost) != len(keys):
        raise ValueError(f"run_sharded: {len(cost)} costs for {len(keys)} keys")
    group = tdist.new_group(backend="gloo") if d.active else None
    try:
        return _run(keys, work, d, group, done, cost, progress, interval)
    finally:
        if group is not None:
            tdist.destroy_process_group(group)


def _run(keys, work, d: Dist, group, done, cost, progress, interval) -> ShardReport:
    pending, costs = _plan(keys, done, cost, d, group)
    owner = dict(zip(pending, assign_shards(costs, d.world)))
    position = {k: i for i, k in enumerate(keys)}
    mine = sorted((k for k in pending if owner[k] == d.rank), key=position.__getitem__)
    skipped = [k for k in keys if k not in owner]
    status = _Status(d.rank, len(mine))

    def report_local() -> None:
        if progress is not None:
            progress(ShardProgress((status.progress(),), len(skipped), len(keys)))

    def report_all(snaps: list[dict]) -> None:
        if progress is not None:
            progress(ShardProgress(tuple(s["progress"] for s in snaps), len(skipped), len(keys)))

    exchange = None
    if d.active:
        exchange = _Exchange(group, d.world, status, interval, report_all if d.is_main else None)
        exchange.start()
    try:
        for key in mine:
            if exchange is not None and (exchange.peer_abort or exchange.error):
                break
            with status.lock:
                status.current, status.fraction = key, 0.0

            def tick(fraction: float, message: str, key=key) -> None:
                with status.lock:
                    status.fraction, status.message = min(max(float(fraction), 0.0), 1.0), message
                if exchange is None:
                    report_local()

            outcome = work(key, tick)
            with status.lock:
                status.outcomes[key] = outcome
                status.finished += 1
                status.units += outcome.units if outcome.ok else 0
                status.current, status.fraction = "", 0.0
                status.message = f"{key}: {'done' if outcome.ok else 'failed'}"
            if exchange is None:
                report_local()
    except BaseException as err:
        with status.lock:
            status.state, status.error = "aborted", f"{type(err).__name__}: {err}"
        if exchange is not None:
            exchange.wake.set()
            exchange.join(timeout=max(10.0, 3 * interval))  # let the others hear of it
        raise
    with status.lock:
        status.state, status.seconds = "finished", time.perf_counter() - status.t0
    if exchange is None:
        snaps = [status.snapshot()]
    else:
        exchange.wake.set()
        exchange.join()
        if exchange.error is not None:
            raise ShardAborted(f"lost contact with the other ranks ({exchange.error}); rerun to resume.") from exchange.error
        if exchange.peer_abort:
            raise ShardAborted(f"{exchange.peer_abort}; this rank stopped after its current item; rerun to resume.")
        snaps = exchange.latest
    return _report(keys, skipped, owner, snaps)


def _report(keys: list[str], skipped: list[str], owner: dict[str, int], snaps: list[dict]) -> ShardReport:
    outcomes = {}
    for s in snaps:
        outcomes.update(s["outcomes"])
    rep = ShardReport(skipped=list(skipped), owner=dict(owner))
    for k in keys:
        if k not in outcomes:
            continue
        ok, units, detail = outcomes[k]
        if ok:
            rep.done.append(k)
            rep.units[k] = units
        else:
            rep.failed[k] = detail
    for s in snaps:
        p = s["progress"]
        mine = [o for o in s["outcomes"].values()]
        rep.ranks.append({"rank": p.rank, "items": p.assigned, "done": sum(o[0] for o in mine),
                          "failed": sum(not o[0] for o in mine), "units": p.units, "seconds": round(s["seconds"], 3)})
    return rep
