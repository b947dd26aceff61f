"""Research jobs on procrastinate (PostgreSQL): deferred by the API in the transaction that
stores their row, run by `redfire worker` processes.

The queue is a table of the database that holds the optimisations, so a job exists iff its
row does. The API writes through SQLAlchemy on asyncpg, procrastinate's connector is psycopg
3: the API defers and cancels with procrastinate's own SQL functions inside its session (the
job itself built from the task's definition), and only workers open procrastinate's pool.
Retries: a job runs again when its worker is lost (killed: no heartbeat, see
`backend/app/worker.py`; stopped before the job ended) or the database failed it; a strategy's
exception is the optimisation's `failed` result, never a retry.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import procrastinate
from procrastinate.exceptions import JobAborted
from procrastinate.job_context import AbortReason, JobContext
from procrastinate.types import JSONValue
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from backend.services.backtest.stored_runs import StoredBacktestRunner
    from backend.services.research.runner import OptimizationRunner

QUEUE = "research"
RUN_OPTIMIZATION = "run_optimization"
RUN_BACKTEST = "run_backtest"
# The worker's additional context keys holding its runners.
RUNNER = "optimization_runner"
BACKTESTS = "backtest_runner"
# Runs of one job in all (the first and its retries after a lost worker or database).
MAX_ATTEMPTS = 5

_DEFER = text(
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(:queue_name, :task_name, :priority, "
    ":lock, :queueing_lock, CAST(:args AS jsonb), CAST(:scheduled_at AS timestamptz))"
    "::procrastinate_job_to_defer_v1])) AS id"
)
# abort: a `todo` job becomes `cancelled`, a `doing` one is asked to abort (its task cancelled).
_CANCEL = text("SELECT procrastinate_cancel_job_v1(:job_id, true, false) AS id")


class WorkerStoppedError(Exception):
    """The worker stopped before the job ended: the job runs again (on any worker)."""


def psycopg_url(database_url: str) -> str:
    """The database URL as psycopg takes it (`postgresql+asyncpg://` -> `postgresql://`)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def job_lock(kind: str, object_id: int) -> str:
    """One job per object waits (queueing lock) and runs (lock) at a time."""
    return f"{kind}-{object_id}"


async def run_optimization(context: JobContext, optimization_id: int) -> None:
    """Run an optimisation on this worker's runner until it has its one result."""
    runner: OptimizationRunner = context.additional_context[RUNNER]
    try:
        await runner.run(optimization_id)
    except asyncio.CancelledError:
        if context.abort_reason() is AbortReason.USER_REQUEST:
            raise JobAborted(f"optimization {optimization_id} cancelled") from None
        raise WorkerStoppedError(f"optimization {optimization_id}: the worker stopped") from None


async def run_backtest(context: JobContext, backtest_id: int) -> None:
    """Run a backtest from its stored inputs until it has its one result."""
    runner: StoredBacktestRunner = context.additional_context[BACKTESTS]
    try:
        await runner.run(backtest_id)
    except asyncio.CancelledError:
        raise WorkerStoppedError(f"backtest {backtest_id}: the worker stopped") from None


RETRY = procrastinate.RetryStrategy(
    max_attempts=MAX_ATTEMPTS, wait=1, retry_exceptions={WorkerStoppedError, DBAPIError, OSError}
)


def build_job_app(database_url: str) -> procrastinate.App:
    """procrastinate on this database, with the research tasks (no connection is opened)."""
    # Opened by workers only: one connection listens for new jobs, one does the rest.
    connector = procrastinate.PsycopgConnector(
        conninfo=psycopg_url(database_url), min_size=1, max_size=2
    )
    app = procrastinate.App(connector=connector)
    app.task(name=RUN_OPTIMIZATION, queue=QUEUE, pass_context=True, retry=RETRY)(run_optimization)
    app.task(name=RUN_BACKTEST, queue=QUEUE, pass_context=True, retry=RETRY)(run_backtest)
    return app


async def defer_optimization(
    session: AsyncSession, app: procrastinate.App, optimization_id: int
) -> int:
    """Queue the optimisation's job in the session's transaction; the job's id."""
    return await _defer(session, app, RUN_OPTIMIZATION, "optimization", optimization_id)


async def defer_backtest(session: AsyncSession, app: procrastinate.App, backtest_id: int) -> int:
    """Queue the backtest's job in the session's transaction; the job's id."""
    return await _defer(session, app, RUN_BACKTEST, "backtest", backtest_id)


async def _defer(
    session: AsyncSession, app: procrastinate.App, task_name: str, kind: str, object_id: int
) -> int:
    lock = job_lock(kind, object_id)
    arguments: dict[str, JSONValue] = {f"{kind}_id": object_id}
    task = app.tasks[task_name]
    job = task.configure(queue=QUEUE, lock=lock, queueing_lock=lock, task_kwargs=arguments).job
    job_id = await session.scalar(
        _DEFER,
        {
            "queue_name": job.queue,
            "task_name": job.task_name,
            "priority": job.priority,
            "lock": job.lock,
            "queueing_lock": job.queueing_lock,
            "args": json.dumps(job.task_kwargs),
            "scheduled_at": job.scheduled_at,
        },
    )
    if job_id is None:
        raise RuntimeError(f"procrastinate deferred no job for {kind} {object_id}")
    return int(job_id)


async def cancel_job(session: AsyncSession, job_id: int) -> bool:
    """Cancel a waiting job, or ask its worker to abort a running one (in the transaction)."""
    return await session.scalar(_CANCEL, {"job_id": job_id}) is not None
