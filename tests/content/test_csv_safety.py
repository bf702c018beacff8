"""CSV exports are safe to open in a spreadsheet (no cell starts a formula)
and the bank's CSV still reads back as the questions that were exported."""

from __future__ import annotations

import ast
import csv
import io
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from invigil.content.formats import csv as csv_format
from invigil.security import safe_csv
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase
from tests.content.factories import SAMPLES, sample
from tests.content.test_api import headers, new_bank

SRC = Path(__file__).resolve().parents[2] / "src" / "invigil"
HOSTILE = ["=SUM(1)", "-1", "+1", "@cmd", "\tx", "\rx", "'=quoted", "'Twas", "'"]


def cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text, newline="")) for c in row]


@given(st.text())
def test_neutralise_is_undone_by_restore_and_never_starts_a_formula(text: str) -> None:
    out = safe_csv.neutralise(text)
    assert not out.startswith(safe_csv.FORMULA)
    assert safe_csv.restore(out) == text


def test_every_cell_that_would_be_a_formula_is_quoted() -> None:
    rows = [{"a": h, "b": -5, "c": None} for h in HOSTILE]
    written = cells(safe_csv.dump(["a", "b", "c"], rows))
    assert not [c for c in written if c.startswith(safe_csv.FORMULA)]
    assert "'=SUM(1)" in written and "'-5" in written and "'Twas" not in written


def test_questions_starting_like_formulas_round_trip() -> None:
    items = [
        sample(
            "single_choice",
            category="=cmd|' /C calc'!A0",
            body=SAMPLES["single_choice"]["body"] | {"prompt": p, "choices": ["-1", "+1"]},
        )
        for p in HOSTILE
    ]
    items = [sample("numeric", body=SAMPLES["numeric"]["body"] | {"value": -1.5}), *items]
    text = csv_format.dump(items)
    assert not [c for c in cells(text) if c.startswith(safe_csv.FORMULA)]
    parsed = csv_format.parse(text)
    assert parsed.problems == [] and parsed.questions == items


def test_a_hand_written_leading_quote_is_kept() -> None:
    text = "type,category,points,prompt,correct\r\ntrue_false,'Misc,1,'Twas so?,true\r\n"
    [q] = csv_format.parse(text).questions
    assert q.category == "'Misc" and q.body.prompt == "'Twas so?"


def test_bank_export_is_safe_and_imports_identical_over_http(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = headers(app, db, tenant_a, "question_manager")
    source = new_bank(client, h, "Formulas")
    for prompt in ("=SUM(1)", "-1"):
        data = SAMPLES["short_text"] | {"bank_id": source}
        data["body"] = data["body"] | {"prompt": prompt, "accepted": ["@x", "=1+1"]}
        assert client.post("/api/v1/questions", json=data, headers=h).status_code == 201
    out = client.get(f"/api/v1/banks/{source}/export?format=csv", headers=h)
    assert "'=SUM(1)" in out.text and "'-1" in out.text and "'@x" in out.text
    assert not [c for c in cells(out.text) if c.startswith(safe_csv.FORMULA)]
    target = new_bank(client, h, "Copy")
    r = client.post(f"/api/v1/banks/{target}/import?format=csv", content=out.content, headers=h)
    assert r.status_code == 201, r.text
    again = client.get(f"/api/v1/banks/{target}/export?format=csv", headers=h)
    assert again.text == out.text
    prompts = client.get(f"/api/v1/questions?bank_id={target}", headers=h).json()["items"]
    assert sorted(p["body"]["prompt"] for p in prompts) == ["-1", "=SUM(1)"]


def test_no_other_module_writes_csv() -> None:
    wrong = []
    for path in SRC.rglob("*.py"):
        if path == SRC / "security" / "safe_csv.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("writer", "DictWriter")
                and isinstance(node.value, ast.Name)
                and node.value.id == "csv"
            ):
                wrong.append(f"{path.relative_to(SRC)}: csv.{node.attr}")
    assert wrong == []
