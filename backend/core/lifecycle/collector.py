"""The garbage collector's settings while the application serves.

CPython starts a young-generation collection every 700 net allocations of container objects;
one order request allocates hundreds, so it collected several times per request, and every
tenth time it walked an older generation too. Two changes, measured under the order
benchmark (one worker, 64 connections):

- What start-up built (modules, the app, vnpy, SQLAlchemy's caches) lives as long as the
  process: frozen out of the collector's generations, a full collection walks only what
  requests allocate (111 ms -> 16 ms each).
- Young collections start every 10,000 allocations instead of 700: GET /orders/{id} went from
  about 2,250 to 2,600 req/s and POST from about 1,050 to 1,150, with young collections of a
  few milliseconds. Cyclic garbage waits a little longer to be freed; memory stays flat (the
  soak checks it).
- The middle generation is collected every 2 young collections instead of 10. It holds what
  survived the young ones, and while orders rest in the book most of them do (each resting
  order keeps 4 tracked objects). Every survivor is walked there once whatever the threshold,
  so the total is the same, but in smaller pieces: with 20,000 orders resting and more
  arriving, its pauses went from 29 to 42 ms (56,000 objects) to 16 ms, each of which had
  stalled every order in flight (POST p99 under the order benchmark).
- What survives a full collection is frozen as well (CPython's gc.freeze, as at start-up).
  A full collection walked every object the book kept alive since start-up (100 to 130 ms
  with 20,000 to 40,000 orders resting, about one every minute under load), and each stalled
  every request in flight: a GET /orders/{id} run that met one had p99 66 ms instead of 40.
  After one, its survivors are frozen, so the next walks only what survived since. A frozen
  object is still freed by its reference count; only one that later dies in a reference
  cycle waits, until every FULL_COLLECTIONS_PER_THAW-th full collection, which thaws
  everything and walks it all once.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 10_000
MIDDLE_THRESHOLD = 2
FULL_COLLECTIONS_PER_THAW = 20
OLDEST = 2


class SurvivorFreezer:
    """A gc callback: after each full collection its survivors are frozen; after every
    `per_thaw`-th, everything is thawed instead, so the next full collection walks it all."""

    def __init__(self, per_thaw: int = FULL_COLLECTIONS_PER_THAW) -> None:
        self.per_thaw = per_thaw
        self.full_collections = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase != "stop" or info["generation"] != OLDEST:
            return
        self.full_collections += 1
        if self.full_collections % self.per_thaw == 0:
            gc.unfreeze()
        else:
            gc.freeze()


@contextmanager
def serving_collector() -> Iterator[None]:
    """Tune the collector for serving; put it back as it was afterwards."""
    previous = gc.get_threshold()
    freezer = SurvivorFreezer()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, *previous[2:])
    gc.callbacks.append(freezer)
    try:
        yield
    finally:
        gc.callbacks.remove(freezer)
        gc.set_threshold(*previous)
        gc.unfreeze()


@contextmanager
def collection_paused() -> Iterator[None]:
    """No garbage collection while one C call allocates many tuples that hold only atoms
    (no other thread runs meanwhile): the collections it would trigger part-way walk them
    again and again; the first young collection afterwards untracks them all at once.
    Building a million replay ticks: 1.28 s of CPU with the collector on, 0.17 s paused."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
