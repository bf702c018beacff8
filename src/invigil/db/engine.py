"""Engines and the factory for units of work."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy.exc
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session

from invigil.db.uow import Actor, UnitOfWork
from invigil.db.urls import DatabaseUrls

# What reaching the database raises while it is down, restarting or refusing
# connections (OperationalError also covers a statement cut off by its
# timeout: the database is not answering in time either). The app answers
# these with errors.database_unreachable().
UNREACHABLE: tuple[type[Exception], ...] = (
    sqlalchemy.exc.DisconnectionError,  # every connection at checkout failed its ping
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,  # no pooled connection came free in time
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


# A pooled connection that came back less than this long ago is handed out
# without a ping: it answered a moment ago. One idle for longer is pinged
# first and replaced if the server went away (a restart, a killed backend).
# Pinging every checkout (pool_pre_ping) costs a round trip per unit of work,
# a fifth of an empty one's time on a loaded machine.
IDLE_PING_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling for connections that sat idle: raising
    DisconnectionError at checkout makes the pool discard the connection and
    hand out a fresh one (SQLAlchemy's documented pattern)."""

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is not None and time.monotonic() - returned < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except psycopg.Error as exc:
            raise sqlalchemy.exc.DisconnectionError(str(exc)) from exc


def checkout(engine: Engine) -> Connection:
    """A pooled connection. When every connection the pool opens at checkout
    fails its ping (behind PgBouncer a new connection opens while the server
    behind it is away), SQLAlchemy gives up with InvalidRequestError "This
    connection is closed": that is the database being unreachable, raised as
    such (a 503, not a 500)."""
    try:
        return engine.connect()
    except sqlalchemy.exc.InvalidRequestError as exc:
        if "connection is closed" not in str(exc):
            raise
        raise sqlalchemy.exc.DisconnectionError(str(exc)) from exc


def _cut_off(exc: sqlalchemy.exc.InternalError) -> bool:
    """The connection broke mid-reply: behind PgBouncer, a server that went
    away during a statement or the COMMIT can leave psycopg with a reply it
    cannot read ("received 2 results from command 'COMMIT'"). The database
    is away; whether that COMMIT took effect is unknown, as with any commit
    cut off (answered 503: the page sends its idempotent writes again)."""
    return isinstance(exc.orig, psycopg.InternalError) and "results from command" in str(exc.orig)


@dataclass
class Database:
    """The app role's connection pool, and the owner's for operator work."""

    urls: DatabaseUrls
    engine: Engine
    _owner_engine: Engine | None = None
    _serving: bool = False

    @classmethod
    def connect(cls, urls: DatabaseUrls, *, pool_size: int = 10, max_overflow: int = 5) -> Database:
        engine = create_engine(
            urls.app,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_recycle=1800,
            # A transaction pooler gives the next transaction another server
            # connection: a statement prepared on one is unknown on the next.
            connect_args={"prepare_threshold": None} if urls.pooled else {},
        )
        _ping_when_idle(engine)
        return cls(urls=urls, engine=engine)

    @property
    def owner_engine(self) -> Engine:
        if self._serving:
            raise RuntimeError(
                "this process serves requests and holds only the app role; "
                "operator work runs in its own command"
            )
        if self._owner_engine is None:
            self._owner_engine = create_engine(self.urls.owner, pool_size=2)
        return self._owner_engine

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A pooled connection in a transaction that commits unless the body raises."""
        with checkout(self.engine) as conn:
            try:
                with conn.begin():
                    yield conn
            except sqlalchemy.exc.InternalError as exc:
                if not _cut_off(exc):
                    raise
                raise sqlalchemy.exc.DisconnectionError(str(exc.orig)) from exc

    @contextmanager
    def unit_of_work(
        self, tenant_id: uuid.UUID | None = None, actor: Actor | None = None
    ) -> Iterator[UnitOfWork]:
        """One transaction as the app role, bound to ``tenant_id`` (or to none)."""
        with self._transaction() as conn:
            uow = UnitOfWork.on(conn, tenant_id, actor or Actor.system())
            try:
                yield uow
            except BaseException:
                uow.finish(ok=False)
                raise
            uow.finish(ok=True)

    @contextmanager
    def operator_unit_of_work(
        self, tenant_id: uuid.UUID | None, actor: Actor | None = None
    ) -> Iterator[UnitOfWork]:
        """Operator tooling (CLI): the owner role, still bound by RLS to one tenant."""
        with Session(self.owner_engine, expire_on_commit=False) as session, session.begin():
            yield UnitOfWork.begin(session, tenant_id, actor or Actor.operator())

    @contextmanager
    def platform_connection(self) -> Iterator[Connection]:
        """A connection for the reviewed cross-tenant functions (db.platform)."""
        with checkout(self.engine) as conn:
            yield conn

    def serve_only(self) -> Database:
        """Give up the owner role for good: close its pooled connections (the
        admin login, with the owner role set) and refuse to open them again.
        A process that serves requests or runs jobs keeps the app role only,
        so a bug or an injection there never runs with the owner's powers."""
        if self._owner_engine is not None:
            self._owner_engine.dispose()
            self._owner_engine = None
        self._serving = True
        return self

    def ping(self) -> None:
        with checkout(self.engine) as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
        if self._owner_engine is not None:
            self._owner_engine.dispose()
