"""The tenant boundary behind PgBouncer in transaction pooling mode: fifty
tenants' transactions interleaved on a few shared server connections, and
not one row of another tenant ever seen."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator

import pytest
from deploy.cluster import pgbouncer
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from invigil.db.engine import Database
from invigil.db.urls import DatabaseUrls, libpq
from invigil.identity import service as identity
from invigil.identity.models import User
from invigil.settings import Settings
from tests.conftest import make_tenant

TENANTS = 50
ROUNDS = 12
SERVER_CONNECTIONS = 4


@pytest.fixture(scope="module")
def pooled(urls: DatabaseUrls) -> Iterator[Database]:
    """The app role through PgBouncer: many client connections, few server ones.
    ``pooled=True`` is what ``INVIGIL_DB_POOLER=transaction`` sets: without it
    the repeated statements below fail (psycopg prepares them on one server
    connection; the next transaction gets another)."""
    with pgbouncer(libpq(urls.app), pool_size=SERVER_CONNECTIONS) as dsn:
        through = make_url(dsn).set(drivername="postgresql+psycopg")
        db = Database.connect(
            dataclasses.replace(urls, app=through, listen=urls.app, pooled=True),
            pool_size=TENANTS,
            max_overflow=0,
        )
        yield db
        db.dispose()


def test_fifty_tenants_interleaved_on_shared_server_connections_see_only_their_rows(
    database: Database, settings: Settings, pooled: Database
) -> None:
    tenants = [make_tenant(database, settings) for _ in range(TENANTS)]
    served: dict[int, set[uuid.UUID]] = defaultdict(set)  # server backend -> tenants it served
    foreign: list[str] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(TENANTS)

    def work(tenant_id: uuid.UUID, i: int) -> None:
        try:
            start.wait()
            for r in range(ROUNDS):
                with pooled.unit_of_work(tenant_id) as uow:
                    backend = uow.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
                    identity.create_user(uow, email=f"u{r}@tenant{i}.test", roles=["grader"])
                    uow.flush()
                    rows = uow.session.execute(select(User.tenant_id, User.email)).all()
                    bound = uow.session.execute(
                        text("SELECT current_setting('app.tenant_id', true)")
                    ).scalar_one()
                with lock:
                    served[backend].add(tenant_id)
                    if bound != str(tenant_id):
                        foreign.append(f"tenant {i} bound as {bound}")
                    foreign.extend(
                        f"tenant {i} saw {email}"
                        for owner, email in rows
                        if owner != tenant_id or not email.endswith(f"@tenant{i}.test")
                    )
                    if len(rows) != r + 1:
                        foreign.append(f"tenant {i} saw {len(rows)} users in round {r}")
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(t.id, i)) for i, t in enumerate(tenants)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not failures, failures[:3]
    assert foreign == []
    # The transactions really were interleaved on shared server connections.
    assert len(served) <= SERVER_CONNECTIONS
    assert max(len(ts) for ts in served.values()) > 1
    assert sum(len(ts) for ts in served.values()) >= TENANTS


def test_a_transaction_after_another_tenants_sees_nothing_unbound(
    database: Database, settings: Settings, pooled: Database
) -> None:
    """The binding is transaction-local: a failed or finished transaction
    leaves nothing on the server connection for the next client."""
    tenant = make_tenant(database, settings)
    with pooled.unit_of_work(tenant.id) as uow:
        identity.create_user(uow, email="kept@bound.test", roles=["grader"])
    with pytest.raises(Exception, match="division by zero"), pooled.unit_of_work(tenant.id) as uow:
        uow.session.execute(text("SELECT 1 / 0"))
    for _ in range(SERVER_CONNECTIONS * 3):  # every server connection in turn
        with pooled.unit_of_work(None) as uow:
            assert uow.session.execute(text("SELECT count(*) FROM users")).scalar_one() == 0
            assert (
                uow.session.execute(text("SELECT current_setting('app.tenant_id', true)")).scalar()
                or ""
            ) == ""


def test_the_settings_name_the_pooler_and_the_direct_connection_for_listening(
    settings: Settings,
) -> None:
    pooled = settings.model_copy(
        update={
            "db_pooler": "transaction",
            "app_database_url": "postgresql://invigil_app@pool.internal:6432/invigil",
            "listen_database_url": "postgresql://invigil_app@db.internal:5432/invigil",
        }
    )
    urls = DatabaseUrls.build(pooled, "postgresql://admin@db.internal:5432/invigil")
    assert urls.pooled and urls.app.port == 6432
    assert urls.listening.host == "db.internal" and urls.listening.port == 5432
    plain = DatabaseUrls.build(settings, "postgresql://admin@db.internal:5432/invigil")
    assert not plain.pooled and plain.listening == plain.app


def test_a_reply_cut_off_behind_the_pooler_is_an_outage_not_a_bug() -> None:
    """Behind PgBouncer a server that goes away during a COMMIT can leave
    psycopg with a reply it cannot read: that is the database being away
    (a 503), where any other internal error stays an error (a 500)."""
    import psycopg
    import sqlalchemy.exc

    from invigil.db.engine import _cut_off

    cut = psycopg.InternalError("received 2 results from command 'COMMIT'")
    assert _cut_off(sqlalchemy.exc.InternalError("COMMIT", None, cut))
    other = psycopg.InternalError("something else went wrong")
    assert not _cut_off(sqlalchemy.exc.InternalError("SELECT 1", None, other))
