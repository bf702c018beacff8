"""The shared table's keyset walk: for every sortable column, in both
directions, following "Next" from the first page and then "Previous" from the
last visits every row exactly once, in the order a plain full sort gives,
with the same page boundaries both ways. Columns with ties (status, name)
and NULLs (last sign-in) included: those are where keyset paging goes wrong."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select

from invigil.db.engine import Database
from invigil.identity.models import User
from invigil.identity.pages.users import users_table
from invigil.pagination import encode_cursor
from invigil.tenants.models import Tenant
from invigil.web import table
from tests.conftest import BoundDatabase

T0 = datetime(2026, 11, 1, tzinfo=UTC)
OURS = select(User).where(User.email.endswith("@walk.test"))  # this example's people only
PEOPLE = st.lists(
    st.tuples(
        st.sampled_from(["", "ada", "bob", "ada"]),  # names: ties and empties
        st.sampled_from(["active", "invited", "deactivated"]),
        st.one_of(st.none(), st.integers(0, 3).map(lambda d: T0 + timedelta(days=d))),
    ),
    max_size=14,
)


def _cursor(href: str | None) -> str | None:
    if href is None:
        return None
    return parse_qs(urlsplit(href).query)["cursor"][0]


def _page(uow: Any, spec: table.Table, sort: str, size: int, cursor: str | None) -> table.Shown:
    params = {"sort": sort} | ({"cursor": cursor} if cursor else {})
    view = replace(table.read(spec, params), size=size)  # pages smaller than the menu's
    return table.fetch(uow, view, OURS)


def _walk(uow: Any, spec: table.Table, sort: str, size: int) -> tuple[list[list[Any]], ...]:
    forward: list[list[Any]] = []
    shown = _page(uow, spec, sort, size, None)
    forward.append([u.id for u in shown.rows])
    while shown.next_href is not None:
        shown = _page(uow, spec, sort, size, _cursor(shown.next_href))
        forward.append([u.id for u in shown.rows])
    backward = [[u.id for u in shown.rows]]
    while shown.prev_href is not None:
        shown = _page(uow, spec, sort, size, _cursor(shown.prev_href))
        backward.append([u.id for u in shown.rows])
    return forward, backward


def _expected(uow: Any, column: table.Column, descending: bool) -> list[uuid.UUID]:
    """The whole list by a plain ORDER BY (no keyset): NULLs last, id breaks ties."""
    key = column.sort.desc() if descending else column.sort.asc()
    tie = User.id.desc() if descending else User.id.asc()
    if column.nullable:
        key = key.nulls_last()
    mine = select(User.id).where(User.email.endswith("@walk.test"))
    return list(uow.session.scalars(mine.order_by(key, tie)))


@hsettings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(people=PEOPLE, size=st.integers(1, 4))
def test_next_then_previous_visits_every_row_once_in_order(
    database: Database, tenant_a: Tenant, people: list[tuple[str, str, Any]], size: int
) -> None:
    with database.engine.connect() as conn:
        outer = conn.begin()  # each example in its own transaction, rolled back
        db = BoundDatabase(urls=database.urls, engine=database.engine)
        db.connection = conn
        try:
            with db.unit_of_work(tenant_a.id) as uow:
                for n, (name, status, seen) in enumerate(people):
                    uow.add(
                        User(
                            tenant_id=tenant_a.id,
                            email=f"p{n:02d}@walk.test",
                            display_name=name,
                            status=status,
                            last_sign_in_at=seen,
                        )
                    )
                uow.flush()
                spec = users_table(SimpleNamespace(uow=uow))  # type: ignore[arg-type]
                for column in [c for c in spec.columns if c.sort is not None]:
                    for descending in (False, True):
                        sort = ("-" if descending else "") + column.key
                        forward, backward = _walk(uow, spec, sort, size)
                        walked = [i for page in forward for i in page]
                        assert walked == _expected(uow, column, descending), sort
                        assert len(set(walked)) == len(people)
                        assert all(len(p) == size for p in forward[:-1]), sort
                        assert backward == forward[::-1], sort
        finally:
            outer.rollback()


def test_a_cursor_for_another_sort_or_forged_is_a_400_naming_it(
    db: BoundDatabase, tenant_a: Tenant
) -> None:
    with db.unit_of_work(tenant_a.id) as uow:
        spec = users_table(SimpleNamespace(uow=uow))  # type: ignore[arg-type]
        made = encode_cursor(["n", "email", ["a@b.test", str(uuid.uuid4())]])
        for params in (
            {"sort": "name", "cursor": made},  # made for another sort
            {"cursor": encode_cursor(["n", "email", [None, str(uuid.uuid4())]])},
            {"cursor": encode_cursor(["x", "email", ["a", str(uuid.uuid4())]])},
            {"cursor": encode_cursor(["n", "email", ["a", "not-an-id"]])},
            {"cursor": "%%%"},
            {"cursor": "x" * 501},
        ):
            try:
                table.read(spec, params)
            except table.BadParameter as exc:
                assert exc.status == 400 and "cursor" in exc.detail
            else:
                raise AssertionError(f"accepted {params}")
        assert table.read(spec, {"cursor": made}).cursor is not None
