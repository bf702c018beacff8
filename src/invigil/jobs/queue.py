"""The procrastinate app. Jobs are deferred inside the request's transaction
(:meth:`invigil.db.uow.UnitOfWork.defer`), so a job exists only if the change
that asked for it committed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import procrastinate

from invigil import logs
from invigil.db.urls import DatabaseUrls, libpq
from invigil.jobs.supervisor import Supervisor
from invigil.logs import get_logger

log = get_logger(__name__)


async def prune_finished(context: procrastinate.JobContext, timestamp: int) -> None:
    """Keep the job table small: drop succeeded jobs older than a week."""
    await context.app.job_manager.delete_old_jobs(nb_hours=24 * 7, include_failed=False)
    log.info("jobs.pruned", timestamp=timestamp)


# A worker writes a heartbeat every 10 s (procrastinate's default); one
# silent for this long died (SIGKILL, a lost machine) holding its jobs.
STALLED_SECONDS = 60.0


async def retry_stalled(context: procrastinate.JobContext, timestamp: int) -> None:
    """Give the jobs of workers that died while running them to the living."""
    await retry_stalled_jobs(context.app)


async def retry_stalled_jobs(app: procrastinate.App) -> int:
    """Put back the jobs held by workers silent for :data:`STALLED_SECONDS`,
    then forget those workers; the number of jobs put back. A job may thus
    run twice: every task is written to be idempotent (a sent mail, a closed
    attempt, a sealed checkpoint is left alone when met again)."""
    manager = app.job_manager
    stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_SECONDS))
    for job in stalled:
        await manager.retry_job(job)
        log.warning("jobs.stalled_retried", job=job.id, task=job.task_name, queue=job.queue)
    await manager.prune_stalled_workers(STALLED_SECONDS)
    return len(stalled)


async def seal_audit_logs(context: procrastinate.JobContext, timestamp: int) -> None:
    """Sign a checkpoint for every tenant whose log grew since its last one."""
    import asyncio

    await asyncio.to_thread(
        _seal_all, context.additional_context["db"], context.additional_context["services"]
    )


def _seal_all(db: Any, services: Any) -> None:
    from invigil.audit.checkpoints import seal
    from invigil.db import platform
    from invigil.db.uow import Actor
    from invigil.errors import Conflict

    for tenant_id in platform.tenant_ids(db):
        try:
            with db.unit_of_work(tenant_id, Actor.system("audit.seal")) as uow:
                seal(uow, services.keys.audit)
        except Conflict:
            log.error("audit.tamper_suspected", tenant=str(tenant_id))


# The domains' tasks (delivery's mail and deadlines, proctoring's re-checks),
# registered when their package is imported; the shell imports every domain
# at start-up, so jobs imports none of them.
_domain_tasks: list[Callable[[procrastinate.Blueprint], None]] = []


def register(add_tasks: Callable[[procrastinate.Blueprint], None]) -> None:
    """A domain adds its tasks to each new blueprint (idempotent)."""
    if add_tasks not in _domain_tasks:
        _domain_tasks.append(add_tasks)


def tasks() -> procrastinate.Blueprint:
    """A fresh blueprint per app: procrastinate renames tasks when it adds them."""
    blueprint = procrastinate.Blueprint()
    blueprint.periodic(cron="17 3 * * *")(
        blueprint.task(name="jobs.prune_finished", queue="maintenance", pass_context=True)(
            prune_finished
        )
    )
    blueprint.periodic(cron="* * * * *")(
        blueprint.task(name="jobs.retry_stalled", queue="maintenance", pass_context=True)(
            retry_stalled
        )
    )
    blueprint.periodic(cron="*/10 * * * *")(
        blueprint.task(name="audit.seal", queue="maintenance", pass_context=True)(seal_audit_logs)
    )
    for add_tasks in _domain_tasks:
        add_tasks(blueprint)
    return blueprint


def make_app(urls: DatabaseUrls) -> procrastinate.App:
    # timeout: how long a query waits for a pooled connection; when the database
    # died this is how long the worker takes to notice (and be restarted).
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=libpq(urls.app),
            min_size=1,
            max_size=4,
            timeout=10,
            kwargs={"prepare_threshold": None} if urls.pooled else None,
        )
    )
    app.add_tasks_from(tasks(), namespace="invigil")
    return app


async def job_log_scope(
    call_next: Callable[[], Any], context: procrastinate.JobContext, worker: Any
) -> Any:
    """Worker middleware: every line a job logs carries its id, task and
    tenant (its ``tenant_id`` argument when it has one; otherwise the tenant
    of the unit of work it opens, from then on)."""
    job = context.job
    tenant = job.task_kwargs.get("tenant_id")
    with logs.scope(
        job_id=str(job.id),
        task=job.task_name,
        tenant=tenant if isinstance(tenant, str) else None,
    ):
        return await call_next()


async def run_worker(
    app: procrastinate.App,
    db: Any = None,
    services: Any = None,
    *,
    on_started: Callable[[], None] | None = None,
    **options: Any,
) -> None:
    """Run jobs; ``db`` and ``services`` reach tasks through their context.
    ``on_started``: called once the pool holds a live connection."""
    options.setdefault("install_signal_handlers", False)
    options.setdefault("worker_middleware", [job_log_scope])
    async with app.open_async():
        if on_started is not None:
            on_started()
        await app.run_worker_async(additional_context={"db": db, "services": services}, **options)


def supervised(
    urls: DatabaseUrls,
    db: Any,
    services: Any,
    *,
    revive: Callable[[], bool] | None = None,
    **options: Any,
) -> Supervisor:
    """A worker that outlives database outages (:mod:`invigil.jobs.supervisor`):
    each run gets a fresh app, so a pool that broke with the database is not reused."""

    if urls.pooled:  # LISTEN is lost behind a transaction pooler: poll for jobs
        options.setdefault("listen_notify", False)

    async def run(started: Callable[[], None]) -> None:
        await run_worker(make_app(urls), db, services, on_started=started, wait=True, **options)

    return Supervisor(run, revive=revive)


class InProcessWorker:
    """A supervised worker thread beside the web server (embedded database only)."""

    def __init__(
        self,
        urls: DatabaseUrls,
        db: Any,
        services: Any,
        *,
        revive: Callable[[], bool] | None = None,
    ) -> None:
        self.supervisor = supervised(urls, db, services, revive=revive)
        self._loop = asyncio.new_event_loop()
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run, name="invigil-worker", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._task = self._loop.create_task(self.supervisor.run_forever())
        try:
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("worker.crashed")

    def start(self) -> None:
        self._thread.start()

    def status(self) -> dict[str, Any]:
        return self.supervisor.status()

    def stop(self, timeout: float = 10) -> None:
        if self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout)
