"""Which DSN each role connects with.

Three connections exist:

- *admin*: the embedded server's superuser, or ``DATABASE_URL``. Used only to
  create the roles and the database (:mod:`invigil.db.bootstrap`).
- *owner*: runs migrations and operator tooling. The admin connection with
  ``SET ROLE`` to the owner role (as a startup option), so every object a
  migration creates is owned by that role, never by a superuser.
- *app*: what the server and workers use. A role with no SUPERUSER, no
  BYPASSRLS and no owned object; the tenant boundary binds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from sqlalchemy.engine import URL, make_url

from invigil.settings import Settings


@dataclass(frozen=True)
class DatabaseUrls:
    admin: URL
    owner: URL
    app: URL
    # The app role straight to PostgreSQL, for LISTEN (a transaction pooler
    # hands each transaction any server connection: notifications get lost).
    listen: URL | None = None
    pooled: bool = False  # ``app`` goes through a pooler in transaction mode

    @property
    def listening(self) -> URL:
        return self.listen or self.app

    @classmethod
    def build(cls, settings: Settings, admin_dsn: str, database: str | None = None) -> DatabaseUrls:
        admin = make_url(admin_dsn).set(drivername="postgresql+psycopg")
        target = database or (settings.db_name if settings.embedded else admin.database)
        if not target:
            raise ValueError("DATABASE_URL must name a database")
        owner = admin.set(database=target)
        if admin.username != settings.db_owner_role:
            owner = owner.update_query_dict({"options": f"-c role={settings.db_owner_role}"})
        if settings.app_database_url:
            app = make_url(settings.app_database_url).set(drivername="postgresql+psycopg")
        else:
            app = admin.set(
                username=settings.db_app_role,
                password=settings.db_app_password or "",
                database=target,
            )
        listen = (
            make_url(settings.listen_database_url).set(drivername="postgresql+psycopg")
            if settings.listen_database_url
            else None
        )
        pooled = settings.db_pooler == "transaction"
        return cls(admin=admin, owner=owner, app=app, listen=listen, pooled=pooled)


def libpq(url: URL) -> str:
    """The URL as psql and libpq spell it: no driver suffix, and the query
    percent-encoded (libpq reads ``+`` literally, not as a space)."""
    base = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    if not url.query:
        return base
    return base + "?" + urlencode(url.query, doseq=True, quote_via=quote)
