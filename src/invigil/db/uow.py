"""The unit of work: one request or job, one transaction, one tenant.

It begins the transaction and, before any other statement, binds it to the
tenant with ``set_config('app.tenant_id', ..., true)``. The setting is
transaction-local, so a pooled connection cannot carry a tenant over to the
next request. Services receive a unit of work and never open connections,
commit, or read the tenant from anywhere else.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import Connection, Engine, Select, text
from sqlalchemy.orm import Session

from invigil import logs
from invigil.errors import NotFound

T = TypeVar("T")

ActorKind = Literal["user", "candidate", "system", "operator", "anonymous"]


@dataclass(frozen=True)
class Actor:
    """Who causes a change: recorded with every audit entry."""

    kind: ActorKind
    id: str

    @classmethod
    def system(cls, job: str = "system") -> Actor:
        return cls("system", job)

    @classmethod
    def operator(cls, name: str = "cli") -> Actor:
        return cls("operator", name)


STATEMENT_TIMEOUT = "30s"

# One statement binds both settings (one round trip, prepared by psycopg
# after a few uses); it is sent through the driver, not through SQLAlchemy,
# whose per-statement handling costs more than the statement.
_BIND = (
    "SELECT set_config('app.tenant_id', %(tenant)s, true),"
    " set_config('statement_timeout', %(timeout)s, true)"
)


def _bind(driver: Any, tenant_id: uuid.UUID | None) -> None:
    logs.bind_tenant(tenant_id)  # the request's or job's log lines name it from here on
    driver.execute(
        _BIND, {"tenant": str(tenant_id) if tenant_id else "", "timeout": STATEMENT_TIMEOUT}
    )


_DEFER = text(
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW("
    ":queue, :task, 0, NULL, :queueing_lock, CAST(:args AS jsonb), :scheduled_at"
    ")::procrastinate_job_to_defer_v1]))"
)


class UnitOfWork:
    """One transaction bound to one tenant. Its ORM session is made on first
    use: a unit of work that only speaks to the driver (the ledger, the
    audit append, the proctoring hot paths) never pays for one."""

    def __init__(
        self,
        session: Session | None,
        tenant_id: uuid.UUID | None,
        actor: Actor,
        *,
        connection: Connection | None = None,
    ) -> None:
        self._session = session
        self._connection = connection
        self.tenant_id = tenant_id
        self.actor = actor
        self.claims: Any = None  # the verified access token, for request units of work

    @classmethod
    def begin(cls, session: Session, tenant_id: uuid.UUID | None, actor: Actor) -> UnitOfWork:
        """Bind the already-begun transaction of ``session`` to ``tenant_id``.

        An empty setting makes every tenant policy compare with NULL: an
        unbound transaction sees no tenant row and can write none.
        """
        _bind(session.connection().connection.driver_connection, tenant_id)
        return cls(session, tenant_id, actor)

    @classmethod
    def on(cls, connection: Connection, tenant_id: uuid.UUID | None, actor: Actor) -> UnitOfWork:
        """Bind the already-begun transaction of ``connection`` to ``tenant_id``
        (as :meth:`begin`); the session, when one is needed, joins it. The
        caller commits: :meth:`finish` first, then the connection's transaction."""
        _bind(connection.connection.driver_connection, tenant_id)
        return cls(None, tenant_id, actor, connection=connection)

    @property
    def session(self) -> Session:
        if self._session is None:
            if self._connection is None:
                raise RuntimeError("this unit of work has no connection")
            # Joins the connection's transaction: its commit only flushes,
            # its rollback (or closing it after an error) rolls that back.
            self._session = Session(bind=self._connection, expire_on_commit=False, autoflush=True)
        return self._session

    def finish(self, *, ok: bool) -> None:
        """Flush and close the session made by :attr:`session`, if any (``ok``),
        or discard it; the caller then commits or rolls back."""
        if self._connection is None or self._session is None:
            return  # no session, or one its owner closes (:meth:`begin`)
        session, self._session = self._session, None
        try:
            if ok:
                session.commit()
        finally:
            session.close()

    @property
    def tenant(self) -> uuid.UUID:
        if self.tenant_id is None:
            raise RuntimeError("this unit of work is not bound to a tenant")
        return self.tenant_id

    def get(self, model: type[T], ident: Any, *, label: str | None = None) -> T:
        """Load by id or raise NotFound; another tenant's id is simply not found."""
        key = (self.tenant, ident) if hasattr(model, "tenant_id") else ident
        obj = self.session.get(model, key)
        if obj is None:
            name = label or getattr(model, "__tablename__", model.__name__).removesuffix("s")
            raise NotFound(f"{name} {ident} was not found")
        return obj

    def add(self, obj: object) -> None:
        self.session.add(obj)

    def flush(self) -> None:
        self.session.flush()

    def driver(self) -> Any:
        """The psycopg connection under this unit of work's transaction, for
        hot paths where SQLAlchemy's per-statement handling would cost more
        than the statement (and for server-side cursors). It sees nothing
        the session has not flushed."""
        if self._session is None and self._connection is not None:
            return self._connection.connection.driver_connection
        return self.session.connection().connection.driver_connection

    def side_engine(self) -> Engine | None:
        """Where a second connection may come from, for reads beside this unit
        of work (it sees committed rows only): its pool, unless the unit of
        work runs inside an outer transaction (a savepoint, a session bound to
        a caller's connection) whose rows another connection could not see."""
        if self._connection is not None:
            nested = self._connection.in_nested_transaction()
            return None if nested else self._connection.engine
        bind = self.session.get_bind()
        return bind if isinstance(bind, Engine) else None

    def scalars(self, stmt: Select[T]) -> list[T]:
        return list(self.session.scalars(stmt))

    def scalar(self, stmt: Select[T]) -> T | None:
        return self.session.scalar(stmt)

    def defer(
        self,
        task_name: str,
        *,
        queue: str = "default",
        lock: str | None = None,
        at: datetime | None = None,
        **kwargs: Any,
    ) -> int:
        """Queue a background job in this transaction: it exists only if we
        commit. ``at``: not before then (default: now)."""
        job_id = self.session.execute(
            _DEFER,
            {
                "queue": queue,
                "task": task_name,
                "queueing_lock": lock,
                "scheduled_at": at,
                "args": json.dumps(kwargs, default=str),
            },
        ).scalar_one()
        return int(job_id)
