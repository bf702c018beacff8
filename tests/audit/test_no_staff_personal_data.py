"""The audit log names staff and visitors by id or keyed hash, never by
e-mail, name, network address or browser.

A staff journey runs through the HTTP API and the pages from distinctive
addresses and browsers: people with distinctive names and e-mails are
created, invited and sign in; a visitor signs in wrongly, for accounts that
exist and that do not, until the account locks and the address is
throttled; passwords are reset and changed, an authenticator enrolled and
reset, roles granted and taken away, custom roles made, changed and deleted,
a grant refused, an account deactivated and reactivated, the organisation's
settings changed, webhook endpoints named after a person made and removed.
Then no audit entry (action, subject, actor, payload, signed bytes) holds any
of those values or a distinctive part of one.

The journey must reach every staff and visitor action the code writes (the
families below, read from the wording table that lists every action): a new
action in these families fails here until the journey drives it, so it is
scanned too.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from PIL import Image
from sqlalchemy import select

from invigil import audit
from invigil.audit import checkpoints
from invigil.audit import service as audit_service
from invigil.audit.models import AuditEvent
from invigil.audit.offline import verify_export
from invigil.audit.wording import ACTIONS
from invigil.db.uow import Actor
from invigil.identity import service
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import PASSWORD, BoundDatabase
from tests.test_pages_matrix import web_client
from tests.webhooks.factories import EVENT

# Everything that names a staff member or a visitor, or says where they are.
ADMIN_NAME, ADMIN_EMAIL = "Ottoline Vexbridge", "ottoline.vexbridge@marrowfield-example.org"
STAFF_NAME, STAFF_EMAIL = "Bartholomew Zingaro-Pell", "b.zingaro-pell@quentaris-example.net"
PAGE_NAME, PAGE_EMAIL = "Henrietta Oakhollow", "henrietta.oakhollow@brindlecombe-example.com"
REFUSED_EMAIL = "mortimer.quillfeather@yarrowdene-example.org"
UNKNOWN_EMAIL = "ravensworth.ulmquist@pellucid-example.com"
STAFF_ADDRESS, STAFF_AGENT = "198.51.100.173", "QuillbrookBrowser/9.7 (Staffwork)"
VISITOR_ADDRESS, VISITOR_AGENT = "192.0.2.219", "ZephyrineCrawler/3.1 (Guessing)"
STAFF_V6 = "2001:db8:7a3e::4c1"  # a second, IPv6 address for the page sign-in

PEOPLE = (ADMIN_NAME, ADMIN_EMAIL, STAFF_NAME, STAFF_EMAIL, PAGE_NAME, PAGE_EMAIL,
          REFUSED_EMAIL, UNKNOWN_EMAIL)  # fmt: skip
WHERE = (STAFF_ADDRESS, STAFF_AGENT, VISITOR_ADDRESS, VISITOR_AGENT, STAFF_V6)

# The families of staff and visitor actions the journey must reach.
FAMILIES = ("access.", "auth.", "user.", "role.", "tenant.", "webhook.")
# A redelivery needs a delivery that was sent first (a running worker); its
# entry names the delivery and the event, nothing typed by a person. An
# account activated by single sign-on needs an identity provider: scanned the
# same way in tests/identity/test_sso.py.
NOT_DRIVEN = {"webhook.redelivered", "user.activated_by_sso"}


def distinctive(values: tuple[str, ...]) -> set[str]:
    """Each value and its telling parts: the words of a name, an e-mail's
    local part and domain, a browser's product name."""
    found: set[str] = set()
    for value in values:
        lowered = value.lower()
        found.add(lowered)
        if "@" in lowered:
            local, domain = lowered.split("@")
            found |= {local, domain.removesuffix(".org").removesuffix(".net").removesuffix(".com")}
        found |= {
            w
            for w in re.split(r"[\s/()@]+", lowered)
            if len(w) >= 6 and w.replace("-", "").isalpha()
        }
    return found


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_of(client: TestClient, tenant: str, email: str, password: str = PASSWORD,
             otp: str | None = None) -> Response:  # fmt: skip
    data = {"tenant": tenant, "username": email, "password": password} | (
        {"otp": otp} if otp else {}
    )
    return client.post("/api/v1/auth/token", data=data)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (90, 30), (40, 90, 160)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def staff(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, client=(STAFF_ADDRESS, 40123),
                    headers={"user-agent": STAFF_AGENT}) as c:  # fmt: skip
        yield c


@pytest.fixture
def visitor(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, client=(VISITOR_ADDRESS, 51234),
                    headers={"user-agent": VISITOR_AGENT}) as c:  # fmt: skip
        yield c


@pytest.fixture
def paged(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, client=(STAFF_V6, 40999),
                    headers={"user-agent": STAFF_AGENT}) as c:  # fmt: skip
        yield c


def test_no_audit_entry_names_a_staff_member_or_a_visitor(
    db: BoundDatabase, settings: Settings, tenant_a: Tenant, staff: TestClient,
    visitor: TestClient, paged: TestClient,
) -> None:  # fmt: skip
    slug = tenant_a.slug
    # The operator makes the first administrator (`invigil user create`).
    with db.unit_of_work(tenant_a.id) as uow:
        service.create_user(uow, email=ADMIN_EMAIL, roles=["tenant_admin"], password=PASSWORD,
                            display_name=ADMIN_NAME)  # fmt: skip
    signed = token_of(staff, slug, ADMIN_EMAIL.upper())
    assert signed.status_code == 200, signed.text
    admin = auth(signed.json()["access_token"])

    # Invite a colleague; they set a password with the link.
    invited = staff.post("/api/v1/users", headers=admin,
                         json={"email": STAFF_EMAIL, "display_name": STAFF_NAME,
                               "roles": ["proctor_reviewer"]})  # fmt: skip
    assert invited.status_code == 201, invited.text
    colleague = invited.json()["user"]["id"]
    secret = invited.json()["link"].rsplit("=", 1)[-1].rsplit("/", 1)[-1]
    assert staff.post("/api/v1/auth/password",
                      json={"token": secret, "password": PASSWORD}).status_code == 204  # fmt: skip

    # A limited manager may not hand out tenant_admin: refused, and audited.
    staff.post("/api/v1/roles", headers=admin,
               json={"name": "people_desk", "description": f"Desk of {STAFF_NAME}",
                     "permissions": ["user:manage", "user:view", "role:view"]})  # fmt: skip
    desk = staff.put(f"/api/v1/users/{colleague}/roles", headers=admin,
                     json={"roles": ["people_desk", "proctor_reviewer"]})  # fmt: skip
    assert desk.status_code == 200, desk.text
    limited = token_of(staff, slug, STAFF_EMAIL)
    assert limited.status_code == 200, limited.text
    refused = staff.post("/api/v1/users", headers=auth(limited.json()["access_token"]),
                         json={"email": REFUSED_EMAIL, "display_name": "Mortimer Quillfeather",
                               "roles": ["tenant_admin"]})  # fmt: skip
    assert refused.status_code == 403, refused.text

    # Resets, second factor, roles, custom roles, status.
    reset = staff.post(f"/api/v1/users/{colleague}/reset-password", headers=admin)
    assert reset.status_code == 200, reset.text
    secret = reset.json()["link"].rsplit("=", 1)[-1].rsplit("/", 1)[-1]
    new_password = "amber-quarry-lantern-77"
    assert staff.post("/api/v1/auth/password",
                      json={"token": secret, "password": new_password}).status_code == 204  # fmt: skip
    own = token_of(paged, slug, STAFF_EMAIL, new_password)
    assert own.status_code == 200, own.text
    mine = auth(own.json()["access_token"])
    seed = staff.post("/api/v1/me/totp", headers=mine).json()["secret"]
    code = pyotp.TOTP(seed).now()
    assert (
        staff.post("/api/v1/me/totp/confirm", headers=mine, json={"code": code}).status_code == 204
    )
    assert staff.post("/api/v1/me/password", headers=mine,
                      json={"current_password": new_password,
                            "new_password": PASSWORD}).status_code == 204  # fmt: skip
    assert staff.post(f"/api/v1/users/{colleague}/mfa/reset", headers=admin).status_code == 200
    made = staff.post("/api/v1/roles", headers=admin,
                      json={"name": "vexbridge_helpers", "description": f"Helpers of {ADMIN_NAME}",
                            "permissions": ["exam:view"]})  # fmt: skip
    assert made.status_code == 201, made.text
    role = made.json()["id"]
    assert staff.patch(f"/api/v1/roles/{role}", headers=admin,
                       json={"permissions": ["exam:view", "question:view"],
                             "description": f"Now for {STAFF_NAME}"}).status_code == 200  # fmt: skip
    assert staff.put(f"/api/v1/users/{colleague}/roles", headers=admin,
                     json={"roles": ["vexbridge_helpers"]}).status_code == 200  # fmt: skip
    assert staff.put(f"/api/v1/users/{colleague}/roles", headers=admin,
                     json={"roles": ["grader"]}).status_code == 200  # fmt: skip
    assert staff.delete(f"/api/v1/roles/{role}", headers=admin).status_code == 204
    assert staff.post(f"/api/v1/users/{colleague}/deactivate", headers=admin).status_code == 200
    assert staff.post(f"/api/v1/users/{colleague}/reactivate", headers=admin).status_code == 200

    # The organisation's settings.
    assert staff.put("/api/v1/tenant/security", headers=admin,
                     json={"require_mfa_for_admins": True}).status_code == 200  # fmt: skip
    assert staff.put("/api/v1/tenant/security", headers=admin,
                     json={"require_mfa_for_admins": False}).status_code == 200  # fmt: skip
    assert staff.put("/api/v1/tenant/branding", headers=admin,
                     json={"accent": "#1a5e3b"}).status_code == 200  # fmt: skip
    assert staff.put("/api/v1/tenant/branding/logo", headers=admin,
                     content=png()).status_code == 200  # fmt: skip
    assert staff.delete("/api/v1/tenant/branding/logo", headers=admin).status_code == 200
    assert staff.put("/api/v1/tenant/languages", headers=admin,
                     json={"languages": ["en", "de"], "default_language": "de"}).status_code == 200  # fmt: skip

    # Webhook endpoints whose URL and description name a person.
    hook = staff.post("/api/v1/webhooks/endpoints", headers=admin,
                      json={"url": "https://receiver.example.invalid/staff/ottoline-vexbridge"
                                   "?contact=ottoline.vexbridge%40marrowfield-example.org",
                            "description": f"Reports for {ADMIN_NAME}",
                            "events": [EVENT]})  # fmt: skip
    assert hook.status_code == 201, hook.text
    endpoint = hook.json()["id"]
    assert staff.patch(f"/api/v1/webhooks/endpoints/{endpoint}", headers=admin,
                       json={"url": "https://receiver.example.invalid/staff/zingaro-pell",
                             "description": f"Reports for {STAFF_NAME}"}).status_code == 200  # fmt: skip
    assert (
        staff.post(f"/api/v1/webhooks/endpoints/{endpoint}/rotate", headers=admin).status_code
        == 200
    )
    assert (
        staff.post(f"/api/v1/webhooks/endpoints/{endpoint}/ping", headers=admin).status_code == 202
    )
    assert staff.delete(f"/api/v1/webhooks/endpoints/{endpoint}", headers=admin).status_code == 204

    # A visitor guesses: the colleague's account locks, then the address is throttled.
    for _ in range(settings.sign_in_max_failures_per_account):
        assert token_of(visitor, slug, STAFF_EMAIL, "wrong password 123").status_code == 401
    while (r := token_of(visitor, slug, UNKNOWN_EMAIL, "wrong password 123")).status_code == 401:
        pass
    assert r.status_code == 429, r.text

    # Sessions: a renewal, then the spent renewal token again (the family ends).
    refresh = signed.json()["refresh_token"]
    again = staff.post("/api/v1/auth/refresh", json={"refresh_token": refresh})
    assert again.status_code == 200, again.text
    assert staff.post("/api/v1/auth/refresh", json={"refresh_token": refresh}).status_code == 401

    # The pages: sign in from another address, invite someone, change language, sign out.
    form = paged.get("/signin")
    page = paged.post("/signin", follow_redirects=False,
                      data={"tenant": slug, "email": ADMIN_EMAIL, "password": PASSWORD,
                            "csrf": csrf_of(form.text)})  # fmt: skip
    assert page.status_code == 303, page.text
    users = paged.get("/admin/users")
    made_page = paged.post("/admin/users", follow_redirects=False,
                           data={"csrf": csrf_of(users.text), "email": PAGE_EMAIL,
                                 "display_name": PAGE_NAME, "roles": ["grader"]})  # fmt: skip
    assert made_page.status_code == 201, made_page.text
    account = paged.get("/account")
    assert paged.post("/account/language", follow_redirects=False,
                      data={"csrf": csrf_of(account.text), "language": "de"}).status_code == 303  # fmt: skip
    account = paged.get("/account")
    assert paged.post("/signout", follow_redirects=False,
                      data={"csrf": csrf_of(account.text)}).status_code == 303  # fmt: skip

    with db.unit_of_work(tenant_a.id) as uow:
        entries = list(uow.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
    seen = {e.action for e in entries}
    every = {a for a in ACTIONS if a.startswith(FAMILIES)}
    assert every - NOT_DRIVEN <= seen, sorted(every - NOT_DRIVEN - seen)

    personal = distinctive(PEOPLE) | distinctive(WHERE)
    found: list[tuple[str, str, str]] = []
    for e in entries:
        for where, value in (
            ("action", e.action), ("subject_type", e.subject_type),
            ("subject_id", e.subject_id), ("actor_id", e.actor_id),
            ("payload", str(e.payload)), ("entry", e.entry),
        ):  # fmt: skip
            lowered = value.lower()
            found += [(e.action, where, p) for p in personal if p in lowered]
    assert found == [], found


def test_the_journeys_values_are_what_the_scan_looks_for() -> None:
    """The scan's needles: whole values and their parts, so a log that kept
    only a domain or a surname would still be caught."""
    needles = distinctive(PEOPLE) | distinctive(WHERE)
    assert {"quentaris-example", "vexbridge", "zingaro-pell", "198.51.100.173",
            "2001:db8:7a3e::4c1", "zephyrinecrawler", "b.zingaro-pell"} <= needles  # fmt: skip
    assert uuid.UUID(int=0).hex not in needles


def test_the_audit_page_names_them_from_the_live_rows(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant, visitor: TestClient
) -> None:
    """What the entries no longer hold, the page and its CSV still show, read
    from the rows: the e-mail and address of a failed sign-in, a user's
    e-mail, that an account is deactivated, a role's name."""
    with db.unit_of_work(tenant_a.id) as uow:
        target = service.create_user(
            uow, email=STAFF_EMAIL, roles=["grader"], display_name=STAFF_NAME
        )
        service.create_role(uow, name="vexbridge_helpers", description="",
                            permissions=["exam:view"])  # fmt: skip
        service.set_roles(uow, target.id, ["grader", "vexbridge_helpers"])
        service.deactivate_user(uow, target.id)
    assert token_of(visitor, tenant_a.slug, UNKNOWN_EMAIL, "wrong password 123").status_code == 401
    with db.unit_of_work(tenant_a.id) as uow:
        raw = str([e.payload for e in uow.scalars(select(AuditEvent))])
    assert UNKNOWN_EMAIL not in raw and VISITOR_ADDRESS not in raw and "vexbridge" not in raw

    client, _ = web_client(app, db, tenant_a.id, ["auditor"])
    page = client.get("/admin/audit?action=auth.sign_in_failed").text
    assert UNKNOWN_EMAIL in page and VISITOR_ADDRESS in page
    page = client.get(f"/admin/audit?subject_id={target.id}").text
    assert f"{STAFF_NAME} &lt;{STAFF_EMAIL}&gt; (deactivated)" in page
    assert "vexbridge_helpers" in page  # role.granted's role_id, by the role's name
    csv = client.get(f"/admin/audit?subject_id={target.id}&format=csv").text
    assert f"{STAFF_NAME} <{STAFF_EMAIL}> (deactivated)" in csv


def test_a_log_begun_before_keeps_its_e_mails_and_still_verifies(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    """Entries are never rewritten: entries in the old shapes (an e-mail in
    ``user.created``, an address as a throttle's subject) beside new ones
    verify in the database and offline, and the page still reads them."""
    with db.unit_of_work(tenant_a.id, Actor.operator()) as uow:
        audit.record(uow, "user.created", ("user", str(uuid.uuid4())),
                     {"email": STAFF_EMAIL, "status": "active", "roles": ["grader"]})  # fmt: skip
        audit.record(uow, "auth.throttled", ("address", VISITOR_ADDRESS), {"email": UNKNOWN_EMAIL})
        service.create_user(uow, email=PAGE_EMAIL, roles=["grader"], password=PASSWORD)
        checkpoints.seal(uow, app.state.services.keys.audit)
    with db.unit_of_work(tenant_a.id, Actor.operator()) as uow:
        report = audit_service.verify_tenant(uow, app.state.services.keys.audit)
        exported = audit_service.export(uow, app.state.services.keys.audit, tenant_a.slug)
    assert report.ok, report.problems
    assert verify_export(json.loads(json.dumps(exported, default=str))).ok
    assert STAFF_EMAIL in json.dumps(exported) and PAGE_EMAIL not in json.dumps(exported)
    client, _ = web_client(app, db, tenant_a.id, ["auditor"])
    page = client.get("/admin/audit?action=auth.throttled").text
    assert VISITOR_ADDRESS in page and UNKNOWN_EMAIL in page
