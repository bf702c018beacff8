"""One PostgreSQL database per test run (per xdist worker), built by the real
migrations; tests connect as the app role, so RLS and grants are live.

With ``DATABASE_URL`` the run uses that server (it needs CREATEDB and
CREATEROLE); otherwise an embedded server in a temporary folder.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Connection, text
from sqlalchemy.pool import NullPool

from invigil.db import embedded
from invigil.db.bootstrap import drop_database
from invigil.db.engine import Database
from invigil.db.migrate import upgrade
from invigil.db.urls import DatabaseUrls
from invigil.identity.models import User
from invigil.security import passwords
from invigil.settings import Settings
from invigil.tenants import service as tenants
from invigil.tenants.models import Tenant

# Thousands of staff passwords are hashed and verified in the suite: argon2's
# smallest parameters (settings.argon2_profile), here and in every CLI or
# server process a test starts (they inherit the environment). Production's
# own parameters are held by tests/identity/test_service.py.
os.environ["INVIGIL_ARGON2_PROFILE"] = "test-only-minimal"

# Logs that no process configured (the app under test; `invigil serve`
# configures its own) keep structlog's defaults, but print tracebacks as plain
# text: the default renders each with rich (source and locals of every frame),
# seconds of CPU for each unexpected error a test provokes on purpose.
structlog.configure(
    processors=[
        *structlog.get_config()["processors"][:-1],
        structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback),
    ]
)

# Property tests check what holds, never how fast: a per-example deadline
# only measures how busy the machine is (speed is for `make bench`).
hypothesis_settings.register_profile("invigil", deadline=None)
hypothesis_settings.load_profile("invigil")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long files first: the browser tests and every file with a test
    marked slow (processes, threads), each file kept whole and in its order.
    ``make test`` hands out whole files (``--dist loadfile``); one of
    several minutes handed out last keeps one process running while the
    other waits."""
    browser = config.rootpath / "tests" / "browser"
    long = {i.path for i in items if i.get_closest_marker("slow") or browser in i.path.parents}
    items.sort(key=lambda item: item.path not in long)  # stable: the rest keeps its order


class BoundDatabase(Database):
    """A Database whose units of work are savepoints in one test transaction,
    rolled back when the test ends (Polar's and Warehouse's isolation)."""

    connection: Connection

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with self.connection.begin_nested():
            yield self.connection

    @contextmanager
    def platform_connection(self) -> Iterator[Connection]:
        yield self.connection


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from tests.evidence.factories import use_settings

    home = tmp_path_factory.mktemp("home")
    made = Settings(home=home, database_url=os.environ.get("DATABASE_URL"), log_format="console")
    use_settings(made)
    passwords.configure(made.argon2_profile)  # services called without an app hash too
    return made


@pytest.fixture(scope="session")
def admin_dsn(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> str:
    if settings.database_url:
        return settings.database_url
    return embedded.start(tmp_path_factory.mktemp("pg") / "data")


@pytest.fixture(scope="session")
def urls(settings: Settings, admin_dsn: str) -> Iterator[DatabaseUrls]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"invigil_test_{worker}_{os.getpid()}"
    urls = DatabaseUrls.build(settings, admin_dsn, database=name)
    upgrade(settings, urls)
    yield urls
    drop_database(urls)


@pytest.fixture(scope="session")
def database(urls: DatabaseUrls) -> Iterator[Database]:
    """The real pool: for tests that need commits (concurrency, CLI, jobs)."""
    db = Database.connect(urls, pool_size=4, max_overflow=2)
    yield db
    db.dispose()


@pytest.fixture
def db(database: Database) -> Iterator[BoundDatabase]:
    """Units of work inside one transaction that is rolled back after the test."""
    with database.engine.connect() as conn:
        outer = conn.begin()
        bound = BoundDatabase(urls=database.urls, engine=database.engine)
        bound.connection = conn
        try:
            yield bound
        finally:
            outer.rollback()


def make_tenant(database: Database, settings: Settings, slug: str | None = None) -> Tenant:
    """A committed tenant with a unique slug (tenants are created by the operator path)."""
    slug = slug or f"t-{uuid.uuid4().hex[:12]}"
    return tenants.create_tenant(
        database, slug=slug, name=slug.upper(), region=settings.regions[0], regions=settings.regions
    )


@pytest.fixture(scope="session")
def tenant_a(database: Database, settings: Settings) -> Tenant:
    return make_tenant(database, settings)


@pytest.fixture(scope="session")
def tenant_b(database: Database, settings: Settings) -> Tenant:
    return make_tenant(database, settings)


@pytest.fixture
def owner_conn(database: Database) -> Iterator[Connection]:
    """The owner role, inside a transaction that is rolled back: for DDL a test
    makes on purpose (a bad table) and must leave no trace of."""
    with database.owner_engine.connect() as conn:
        tx = conn.begin()
        try:
            yield conn
        finally:
            tx.rollback()


@pytest.fixture
def admin_conn(urls: DatabaseUrls) -> Iterator[Connection]:
    """The admin (superuser) connection on the test database, rolled back."""
    from sqlalchemy import create_engine

    engine = create_engine(urls.admin.set(database=urls.owner.database), poolclass=NullPool)
    with engine.connect() as conn:
        tx = conn.begin()
        try:
            yield conn
        finally:
            tx.rollback()
    engine.dispose()


@pytest.fixture
def app(settings: Settings, db: BoundDatabase) -> FastAPI:
    from invigil.app import create_app

    return create_app(settings, db, run_jobs=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


PASSWORD = "river-lantern-orbit-42"


def make_user(
    db: Database,
    tenant_id: uuid.UUID,
    roles: list[str],
    *,
    email: str | None = None,
    password: str | None = PASSWORD,
) -> User:
    from invigil.identity import service

    with db.unit_of_work(tenant_id) as uow:
        return service.create_user(
            uow,
            email=email or f"u{uuid.uuid4().hex[:10]}@staff.test",
            roles=roles,
            password=password,
        )


def bearer(app: FastAPI, db: Database, user: User, *, tenant_slug: str = "") -> dict[str, str]:
    """An access token for ``user`` with a real session, as sign-in would make (no argon2)."""
    from invigil.identity import auth, service

    services = app.state.services
    with db.unit_of_work(user.tenant_id) as uow:
        session, _ = auth.open_session(
            uow,
            services.settings,
            user,
            kind="api",
            address="test",
            user_agent="pytest",
            enroll_only=False,
        )
        roles = service.roles_of(uow, user.id)
        perms = sorted(service.permissions_of(roles))
    token, _ = services.tokens.issue(
        user_id=user.id,
        tenant_id=user.tenant_id,
        tenant_slug=tenant_slug,
        session_id=session.id,
        roles=[r.name for r in roles],
        permissions=perms,
    )
    return {"Authorization": f"Bearer {token}"}


def sign_in(
    client: TestClient, tenant: str, email: str, password: str = PASSWORD, otp: str | None = None
) -> Response:
    data = {"tenant": tenant, "username": email, "password": password}
    if otp:
        data["otp"] = otp
    return client.post("/api/v1/auth/token", data=data)


def current_tenant_setting(conn: Connection) -> str | None:
    return conn.execute(text("SELECT current_setting('app.tenant_id', true)")).scalar()
