"""What candidates read: their organisation's name, how many attempts they
used and their best result, and never an internal id or a proctoring rule's
id (on the pages the server renders, and in the player's scripts)."""

from __future__ import annotations

import html
import re
from pathlib import Path

from fastapi import FastAPI

from invigil.proctoring.presets import PRESETS
from invigil.settings import Settings
from tests.conftest import BoundDatabase
from tests.delivery.test_attempts import begun, browser, invited, item, start

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
STATIC = Path(__file__).parents[2] / "src" / "invigil" / "web" / "static"
RULE_IDS = {rule.id for policy in PRESETS.values() for rule in policy.rules}


def visible_text(page: str) -> str:
    """What a person reads: no scripts, no styles, no tags (attributes go with them)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    page = re.sub(r"<title>.*?</title>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def assert_no_internal_ids(page: str, where: str) -> None:
    text = visible_text(page)
    assert not UUID.search(text), f"{where} shows an internal id: {UUID.search(text)}"
    shown = {r for r in RULE_IDS if r in text}
    assert not shown, f"{where} shows rule ids {shown}"


def test_candidate_pages_show_no_internal_or_rule_ids(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    _, token = invited(db, settings, results_release="immediately", attempts_allowed=5)
    assert RULE_IDS  # the presets do have rule ids to leak
    client, _ = begun(app, token)
    base = f"/take/{token}"
    assert_no_internal_ids(client.get(f"{base}/exam").text, "the player page")
    client.post(f"{base}/api/submit", json={"items": [item(0, 1, 1)]})
    assert_no_internal_ids(client.get(f"{base}/done").text, "the confirmation page")
    landing = client.get(base).text
    assert_no_internal_ids(landing, "the landing page")
    assert_no_internal_ids(browser(app).get("/take/gl.nope").text, "the neutral page")
    declined_token = invited(db, settings)[1]
    declined = browser(app).post(f"/take/{declined_token}/decline").text
    assert_no_internal_ids(declined, "the declined page")


def test_the_players_scripts_never_put_a_rule_id_in_words() -> None:
    for script in [STATIC / "player.js", *sorted((STATIC / "player").glob("*.js"))]:
        source = script.read_text()
        assert "Proctoring rule" not in source, script.name
        assert not re.search(r"`[^`]*\$\{\s*(?:w\.)?rule\s*\}", source), script.name
        leaked = {r for r in RULE_IDS if r in source}
        assert not leaked, (script.name, leaked)


def test_the_landing_page_counts_attempts_used_and_shows_the_best_result(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    _, token = invited(
        db, settings, results_release="immediately", attempts_allowed=5, shuffle_options=False
    )
    client = browser(app)
    first = visible_text(client.get(f"/take/{token}").text)
    assert "5 attempts allowed" in first and "best result" not in first
    client, _ = begun(app, token)
    client.post(f"/take/{token}/api/submit", json={"items": [item(0, 1, 1)]})
    again = visible_text(client.get(f"/take/{token}").text)
    assert re.search(r"Attempts\s+1 of 5 attempts used", again), again
    best = re.search(r"Your best result\s+([0-9.]+) of ([0-9.]+) points", again)
    assert best, again
    assert float(best.group(1)) > 0  # question 1 was answered right


def test_candidates_see_their_organisations_name(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings)
    page = browser(app).get(f"/take/{token}").text
    header = re.search(r"<header>.*?</header>", page, flags=re.S)
    assert header is not None
    from invigil.tenants.models import Tenant

    with db.unit_of_work(made.invitation.tenant_id) as uow:
        name = uow.get(Tenant, made.invitation.tenant_id).name
    assert name in header.group(0) and ">Invigil<" not in header.group(0)
    assert start(browser(app), token).status_code == 303
