"""docs/formats/retention-policy.md: its first document is the defaults,
its defaults table says what the code holds, its examples validate, and
its refusal example is what the API answers."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil.retention import policy
from invigil.settings import Settings
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user

DOC = Path(__file__).parents[2] / "docs" / "formats" / "retention-policy.md"
JSON = re.compile(r"```json\n(.*?)```", re.S)


def blocks() -> list[object]:
    return [json.loads(b) for b in JSON.findall(DOC.read_text())]


def test_the_documents_in_the_doc_validate_and_the_first_is_the_defaults() -> None:
    found = blocks()
    documents = [b for b in found if isinstance(b, dict) and "classes" in b]
    assert len(documents) == 3, "the defaults and two examples"
    assert policy.parse(documents[0]) == policy.DEFAULT
    for doc in documents[1:]:
        assert policy.parse(doc).as_json()["classes"].keys() == set(policy.CLASSES)


def test_the_tables_say_what_the_code_holds() -> None:
    text = DOC.read_text()
    classes = text.split("## Classes", 1)[1].split("##", 1)[0]
    for name, (events, actions) in policy.ALLOWED.items():
        row = next(line for line in classes.splitlines() if line.startswith(f"| `{name}` |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert re.findall(r"`([a-z_]+)`", cells[2]) == list(events), name
        assert re.findall(r"`([a-z_]+)`", cells[3]) == list(actions), name
    defaults = text.split("## The defaults (version 0)", 1)[1].split("##", 1)[0]
    for name in policy.CLASSES:
        rule = policy.DEFAULT.rule(name)
        row = next(line for line in defaults.splitlines() if line.startswith(f"| `{name}` |"))
        kept = f"{rule.keep_days} days" if rule.keep_days else "(`null`)"
        assert kept in row and f"`{rule.start}`" in row and f"`{rule.then}`" in row, name
    assert f"Contest window: {policy.DEFAULT.contest_window_days} days" in defaults


def test_the_refusal_in_the_doc_is_the_apis(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings
) -> None:
    refusal = next(b for b in blocks() if isinstance(b, dict) and "field" in b)
    tenant = make_tenant(db, settings)
    admin = bearer(app, db, make_user(db, tenant.id, ["tenant_admin"]))
    doc = policy.DEFAULT.as_json()
    doc["classes"]["answers"]["then"] = "anonymise"
    answer = client.put(
        "/api/v1/retention/policy", json={"policy": doc, "reason": "x"}, headers=admin
    )
    assert answer.status_code == 422
    assert {k: answer.json()[k] for k in refusal} == refusal
