"""The unit of work's own costs cut without changing what it guarantees: the
ORM session exists only when used, pooled connections are pinged only after
sitting idle (and replaced when the server went away), and everything done
through the driver or the session commits or rolls back together."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from invigil.db import engine as engine_module
from invigil.db import uow as uow_module
from invigil.db.engine import UNREACHABLE, Database
from invigil.db.urls import libpq
from invigil.ledger import service
from invigil.settings import Settings
from tests.conftest import make_tenant

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)


@pytest.fixture
def one_connection(database: Database) -> Iterator[Database]:
    db = Database.connect(database.urls, pool_size=1, max_overflow=0)
    yield db
    db.dispose()


def _backend(db: Database) -> int:
    with db.unit_of_work() as uow:
        return int(uow.driver().info.backend_pid)


def test_a_driver_only_unit_of_work_makes_no_session(
    one_connection: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[object] = []
    real = uow_module.Session

    def counting(*args: object, **kwargs: object) -> object:
        made.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(uow_module, "Session", counting)
    tenant = uuid.uuid4()
    with one_connection.unit_of_work(tenant) as uow:
        bound = uow.driver().execute("SELECT current_setting('app.tenant_id')").fetchone()
    assert bound == (str(tenant),) and made == []
    with one_connection.unit_of_work(tenant) as uow:
        assert uow.scalar(uow_module.text("SELECT 1")) == 1  # type: ignore[arg-type]
        assert uow.driver().execute("SELECT 2").fetchone() == (2,)
    assert len(made) == 1


def test_driver_and_session_roll_back_together(database: Database, settings: Settings) -> None:
    tenant = make_tenant(database, settings).id
    with database.unit_of_work(tenant) as uow:
        service.credit(uow, 5, "UOW-1", now=NOW)
    with pytest.raises(RuntimeError, match="on purpose"), database.unit_of_work(tenant) as uow:
        service.charge(uow, 1, ("attempt", uuid.uuid4()), now=NOW)
        uow.session.execute(uow_module.text("SELECT 1"))
        raise RuntimeError("on purpose")
    with database.unit_of_work(tenant) as uow:
        assert service.balances(uow)[service.CREDITS] == 5
        assert len(service.history(uow).items) == 1


def test_an_idle_connection_whose_server_went_away_is_replaced(
    one_connection: Database, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _backend(one_connection)
    with psycopg.connect(libpq(database.urls.admin), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first,))
    monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 0.0)  # it sat idle long enough
    second = _backend(one_connection)
    assert second != first


def test_a_connection_back_a_moment_ago_is_not_pinged(
    one_connection: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[object] = []
    dialect = one_connection.engine.dialect
    real = dialect.do_ping
    monkeypatch.setattr(dialect, "do_ping", lambda conn: pings.append(conn) or real(conn))
    monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 3600.0)
    _backend(one_connection)
    _backend(one_connection)
    _backend(one_connection)
    assert len(pings) == 1  # the new connection's first checkout, then none
    monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 0.0)
    _backend(one_connection)
    assert len(pings) == 2


def test_a_connection_lost_a_moment_after_its_return_fails_once_then_is_replaced(
    one_connection: Database, database: Database
) -> None:
    """The price of not pinging every checkout (ADR 0052): the request that
    finds the connection dead answers 'database unreachable' (the app maps
    this error to a 503); the connection is discarded, the next one works."""
    first = _backend(one_connection)
    with psycopg.connect(libpq(database.urls.admin), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first,))
    with pytest.raises(UNREACHABLE):
        _backend(one_connection)
    assert _backend(one_connection) != first
