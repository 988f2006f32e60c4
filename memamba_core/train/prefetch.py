"""Bags read in a background thread ahead of the model (``TrainConfig.prefetch_bags``), so a step never waits on the disk.

    with Prefetcher(load, order, depth=2) as bags:
        for i in order:
            feats = bags.get(i)       # load(i), usually already read while the previous patient trained

The worker thread calls ``load(i)`` for the indices of ``order`` in turn and keeps at
most ``depth`` results waiting (plus the one it is reading). ``get`` hands them out in
the same order, so the model sees exactly what synchronous loading gives it: the same
tensors in the same order; nothing random is drawn in the thread. An error raised by
``load`` is raised by the ``get`` of that index. The model's torch kernels release the
GIL while they run, so the thread reads the next bag during the current patient's
forward and backward.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Generic, Sequence, TypeVar

__all__ = ["Prefetcher"]

T = TypeVar("T")


class Prefetcher(Generic[T]):
    """``load(i)`` for each ``i`` of ``order``, computed up to ``depth`` ahead in a daemon thread (see module docstring)."""

    def __init__(self, load: Callable[[int], T], order: Sequence[int], depth: int):
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self._order = list(order)
        self._next = 0
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, args=(load,), name="memamba-prefetch", daemon=True)
        self._thread.start()

    def _work(self, load: Callable[[int], T]) -> None:
        for i in self._order:
            try:
                item = (i, load(i), None)
            except BaseException as err:  # handed to the consumer by get()
                item = (i, None, err)
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if self._stop.is_set() or item[2] is not None:
                return

    def get(self, i: int) -> T:
        """The next result; ``i`` must be the next index of ``order`` (a check that the consumer follows the plan)."""
        if self._next >= len(self._order) or self._order[self._next] != i:
            expected = self._order[self._next] if self._next < len(self._order) else "nothing (the order is used up)"
            raise RuntimeError(f"prefetch order broken: asked for {i}, next planned is {expected}")
        self._next += 1
        _, value, err = self._queue.get()
        if err is not None:
            raise err
        return value

    def close(self) -> None:
        """Stop the thread (results not yet taken are dropped)."""
        self._stop.set()
        self._thread.join(timeout=5)

    def __enter__(self) -> "Prefetcher[T]":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
