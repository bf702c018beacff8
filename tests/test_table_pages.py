"""Every staff list through the shared table (invigil.web.table): sort,
search, page size and CSV export work; a bad parameter answers a 400 page
naming it, never a 500; another tenant's rows never appear."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from fastapi import FastAPI

from invigil.content.pages.banks import BANKS
from invigil.content.pages.exams import EXAMS
from invigil.identity import service
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase
from tests.content.factories import make_bank
from tests.delivery.factories import kit_for, make_invitation
from tests.test_pages_matrix import web_client

LISTS = [
    "/admin/users",
    "/admin/roles",
    "/admin/audit",
    "/authoring/banks",
    "/authoring/exams",
    "/delivery/invitations",
    "/delivery/outbox",
    "/delivery/attempts",
    "/proctoring/reviews",
]
BAD = [
    ({"sort": "password_hash"}, "sort"),
    ({"sort": "-" * 200}, "sort"),
    ({"size": "7"}, "size"),
    ({"size": "1000000"}, "size"),
    ({"size": "-1"}, "size"),
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"cursor": "eyJhIjogMX0"}, "cursor"),  # base64 JSON, but no cursor of ours
    ({"format": "xlsx"}, "format"),
    ({"q": "x" * 101}, "q"),
]


@pytest.mark.parametrize("path", LISTS)
def test_bad_parameters_are_a_400_page_naming_them(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant, path: str
) -> None:
    admin, _ = web_client(app, db, tenant_a.id, ["tenant_admin"])
    for params, name in BAD:
        response = admin.get(path, params=params)
        assert response.status_code == 400, (path, params, response.status_code)
        assert response.headers["content-type"].startswith("text/html"), (path, params)
        assert f"\u201c{name}\u201d" in response.text, (path, params)
    assert admin.get(path).status_code == 200
    assert admin.get(path, params={"size": "10"}).status_code == 200


def test_a_filter_takes_only_its_own_values(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    admin, _ = web_client(app, db, tenant_a.id, ["tenant_admin"])
    for path, params, name in [
        ("/admin/users", {"status": "root"}, "status"),
        ("/admin/users", {"role": "superuser"}, "role"),
        ("/delivery/attempts", {"exam": str(uuid.uuid4())}, "exam"),
        ("/delivery/invitations", {"state": "gone"}, "state"),
        ("/authoring/exams", {"status": "deleted"}, "status"),
        ("/admin/audit", {"since": "yesterday"}, "since"),
        ("/admin/audit", {"action": "'; drop table"}, "action"),
    ]:
        response = admin.get(path, params=params)
        assert response.status_code == 400 and f"\u201c{name}\u201d" in response.text, path


def _user(db: BoundDatabase, tenant: Tenant, email: str, name: str = "") -> None:
    with db.unit_of_work(tenant.id) as uow:
        service.create_user(uow, email=email, roles=["grader"], display_name=name)


def test_users_sort_search_size_and_export(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    tag = uuid.uuid4().hex[:8]
    for n in range(12):
        _user(db, tenant_a, f"{tag}-{n:02d}@sort.test", f"Person {n:02d}")
    _user(db, tenant_a, f"{tag}-formula@sort.test", '=HYPERLINK("http://evil.test","x")')
    _user(db, tenant_b, f"{tag}-stranger@sort.test", "Stranger")
    admin, _ = web_client(app, db, tenant_a.id, ["tenant_admin"])

    found = admin.get("/admin/users", params={"q": tag, "size": "10"}).text
    assert found.count(f"{tag}-") == 10  # a page of 10, searched
    assert f"{tag}-00@" in found and f"{tag}-stranger" not in found
    assert 'aria-sort="ascending"' in found and 'rel="next"' in found

    backwards = admin.get("/admin/users", params={"q": tag, "sort": "-email"}).text
    assert backwards.index(f"{tag}-formula@") < backwards.index(f"{tag}-11@")
    assert backwards.index(f"{tag}-11@") < backwards.index(f"{tag}-00@")
    assert 'aria-sort="descending"' in backwards

    exported = admin.get("/admin/users", params={"q": tag, "format": "csv"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 13  # every page, same search; the other tenant's user left out
    assert {r["Email"] for r in rows} >= {f"{tag}-00@sort.test", f"{tag}-formula@sort.test"}
    formula = next(r for r in rows if r["Email"].startswith(f"{tag}-formula"))
    assert formula["Name"].startswith("'=")  # a spreadsheet shows it as text

    stranger = admin.get("/admin/users", params={"q": f"{tag}-stranger"}).text
    assert "No account matches this search" in stranger


def test_candidates_are_searched_by_name_email_or_reference(
    app: FastAPI, db: BoundDatabase, settings: Settings, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    kit = kit_for(settings)
    tag = uuid.uuid4().hex[:8]
    make_invitation(db, tenant_a.id, kit, name=f"Grace {tag}", external_ref=f"REF-{tag}")
    make_invitation(db, tenant_a.id, kit, name="Someone Else")
    make_invitation(db, tenant_b.id, kit, name=f"Grace {tag} elsewhere")
    admin, _ = web_client(app, db, tenant_a.id, ["tenant_admin"])
    for q in (tag, f"ref-{tag}", "GRACE"):
        page = admin.get("/delivery/invitations", params={"q": q}).text
        assert f"Grace {tag}" in page and "Someone Else" not in page, q
        assert "elsewhere" not in page, q
    exported = admin.get("/delivery/invitations", params={"q": tag, "format": "csv"}).text
    assert f"Grace {tag}" in exported and "elsewhere" not in exported
    opened = admin.get("/delivery/invitations", params={"state": "open", "sort": "email"})
    assert opened.status_code == 200 and f"Grace {tag}" in opened.text


def test_banks_and_exams_sort_by_their_columns(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    tag = uuid.uuid4().hex[:8]
    make_bank(db, tenant_a.id, f"aaa {tag}")
    make_bank(db, tenant_a.id, f"zzz {tag}")
    admin, _ = web_client(app, db, tenant_a.id, ["tenant_admin"])
    up = admin.get("/authoring/banks", params={"q": tag}).text
    down = admin.get("/authoring/banks", params={"q": tag, "sort": "-name"}).text
    assert up.index(f"aaa {tag}") < up.index(f"zzz {tag}")
    assert down.index(f"zzz {tag}") < down.index(f"aaa {tag}")
    for spec in (BANKS, EXAMS):
        for column in spec.columns:
            if column.sort is not None:
                for sort in (column.key, "-" + column.key):
                    response = admin.get(spec.path, params={"sort": sort})
                    assert response.status_code == 200, (spec.path, sort)


def test_the_review_queue_urgency_orders_by_severity_then_longest_waiting(
    db: BoundDatabase, tenant_a: Tenant
) -> None:
    """The queue's default sort is one numeric expression; it must order as
    the queue does (severity first, then the oldest flag), to the microsecond."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import literal, select

    from invigil.proctoring.review_queue import urgency

    t = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    cases = [  # (rank, since), most urgent first
        (4, t + timedelta(days=300)),
        (3, t),
        (3, t + timedelta(microseconds=1)),
        (3, t + timedelta(days=3000)),
        (0, t - timedelta(days=3000)),
    ]
    with db.unit_of_work(tenant_a.id) as uow:
        values = [
            uow.session.scalar(select(urgency(literal(rank), literal(since))))
            for rank, since in cases
        ]
    assert values == sorted(values, reverse=True) and len(set(values)) == len(values)
