"""A candidate's session can do nothing but its own attempt, generated from
the app's routes: every staff route refuses the candidate's credential, every
candidate route refuses everyone but the browser the attempt is bound to."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil.delivery import attempts
from invigil.settings import Settings
from invigil.web.access import CANDIDATE, RouteInfo, iter_routes
from invigil.web.session import COOKIE
from tests.conftest import BoundDatabase, bearer, make_user
from tests.delivery.test_attempts import browser, invited, start
from tests.identity.test_authorization import api_routes, fill
from tests.test_pages_matrix import page_routes

# Routes whose body is required: a bare call from the real candidate is a 422.
NEEDS_BODY = {
    ("POST", "/take/{token}/api/uploads"),
    ("POST", "/take/{token}/api/recording/segments"),
    ("POST", "/take/{token}/api/face-check"),
}

# Routes for an attempt of one kind only: an attempt of Invigil's own exam
# is told, with a page, that the start of a learning platform's assessment
# is not for it (tests/lti/test_proctoring_services.py admits it).
OTHER_KIND = {("GET", "/take/{token}/lms")}


def candidate_routes(app: FastAPI) -> list[tuple[RouteInfo, str]]:
    return [
        (r, m)
        for r in iter_routes(app.routes)
        for m in sorted(r.methods)
        if m != "HEAD" and r.permissions == (CANDIDATE,)
    ]


def call(client: TestClient, method: str, path: str, **kwargs: Any) -> int:
    if method == "POST":
        kwargs.setdefault("json", {})
    return client.request(method, path, **kwargs).status_code


def bound(app: FastAPI, token: str) -> tuple[TestClient, str, str]:
    """A browser that started the attempt, with its cookie's name and value."""
    client = browser(app)
    r = start(client, token)
    assert r.status_code == 303
    name, _, rest = r.headers["set-cookie"].partition("=")
    return client, name, rest.split(";", 1)[0]


def test_the_candidate_routes_are_found(app: FastAPI) -> None:
    paths = {r.path for r, _ in candidate_routes(app)}
    assert {"/take/{token}/exam", "/take/{token}/api/answers", "/take/{token}/api/submit"} <= paths
    assert all(p.startswith("/take/{token}/") for p in paths)


def test_every_staff_route_refuses_the_candidates_credential(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    _, token = invited(db, settings)
    client, _, secret = bound(app, token)
    assert client.get(f"/take/{token}/api/state").status_code == 200  # it is a live credential
    # Present it every way a staff credential travels: cookie, session cookie, bearer.
    client.cookies.set(COOKIE, secret)
    wrong = []
    for route, method in api_routes(app):
        status = call(
            client, method, fill(route.path), headers={"authorization": f"Bearer {secret}"}
        )
        if status != 401:
            wrong.append(f"{method} {route.path}: {status}")
    for route, method in page_routes(app):
        r = client.request(
            method, fill(route.path), data={"csrf": "x"} if method == "POST" else None
        )
        if r.status_code != 303 or not r.headers["location"].startswith("/signin"):
            wrong.append(f"{method} {route.path}: {r.status_code}")
    assert wrong == []


def test_every_candidate_route_refuses_everyone_but_the_bound_browser(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings)
    owner, name, _ = bound(app, token)
    owner.post(f"/take/{token}/api/begin")
    _, other_token = invited(db, settings)  # another tenant's candidate
    other, _, other_secret = bound(app, other_token)
    staff = bearer(app, db, make_user(db, made.invitation.tenant_id, ["tenant_admin"]))
    routes = candidate_routes(app)
    assert len(routes) >= 7
    wrong = []
    for route, method in routes:
        path = route.path.replace("{token}", token)

        def expect(label: str, status: int, allowed: set[int], what: str = path) -> None:
            if status not in allowed:
                wrong.append(f"{label}: {what} -> {status}")

        # Pages send a browser without the binding to the landing page, which
        # says why; the API answers 401 (no binding) or 409 (another one).
        page = "/api/" not in path
        expect("no cookie", call(browser(app), method, path), {303} if page else {401})
        expect(
            "staff token",
            call(browser(app), method, path, headers=staff),
            {303} if page else {401},
        )
        forged = browser(app)
        forged.cookies.set(name, other_secret)  # a real binding, of another attempt
        expect("other attempt's binding", call(forged, method, path), {303} if page else {409})
        # The other candidate's own browser, on this link: its cookie is not even sent.
        expect("other candidate", call(other, method, path), {303} if page else {401})
        guessed = route.path.replace("{token}", token[:-4] + "AAAA")
        expect("guessed link", call(owner, method, guessed), {404})
        if not path.endswith("/submit"):
            # Admitted: 200, or 422 where the route's own path parameters or
            # body are placeholders here (the candidate check runs first).
            admitted = (
                {200}
                if route.path.count("{") == 1 and (method, route.path) not in NEEDS_BODY
                else {422}
            )
            if (method, route.path) in OTHER_KIND:
                admitted = {409}
            expect("the candidate", call(owner, method, path), admitted)
    assert wrong == []
    # After all that, the attempt still belongs to its browser only.
    assert owner.get(f"/take/{token}/api/state").json()["status"] == "in_progress"
    assert call(owner, "POST", f"/take/{token}/api/submit") == 200
    assert attempts.cookie_name(made.invitation.id) == name
