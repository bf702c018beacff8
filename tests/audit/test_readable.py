"""The audit log as a person reads it: people and things by name (one
lookup per type for a page, never one per row), actions in words (every
action the code writes has its wording), details as a table with the raw
JSON one click away."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from invigil import audit
from invigil.audit import names
from invigil.audit.wording import ACTIONS, SUBJECTS
from invigil.db.uow import Actor
from invigil.identity.models import User
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, make_user
from tests.content.factories import make_bank
from tests.test_pages_matrix import web_client

SRC = Path(__file__).resolve().parents[2] / "src" / "invigil"
ACTION = re.compile(r"^[a-z_]+\.[a-z_]+$")


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level NAME = "text" assignments (DENIED = "access.denied")."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    found[target.id] = node.value.value
    return found


def written_actions() -> Iterator[tuple[str, str]]:
    """(where, action or f-string pattern) for every audit entry the code writes:
    ``record(uow, ACTION, ...)`` calls and the (action, subject, payload)
    entries given to ``record_many``."""
    for path in sorted(SRC.rglob("*.py")):
        source = path.read_text()
        tree = ast.parse(source)
        constants = _constants(tree)
        where = str(path.relative_to(SRC))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", ""))
                if name in ("record", "append") and len(node.args) >= 2:
                    arg = node.args[1]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        yield where, arg.value
                    elif isinstance(arg, ast.Name) and arg.id in constants:
                        yield where, constants[arg.id]
                    elif isinstance(arg, ast.JoinedStr):
                        parts = [
                            re.escape(v.value) if isinstance(v, ast.Constant) else "[a-z_]+"
                            for v in arg.values
                        ]
                        yield where, "re:" + "".join(parts)
            if "record_many(" in source and isinstance(node, ast.Tuple) and len(node.elts) == 3:
                first = node.elts[0]
                if (
                    isinstance(first, ast.Constant)
                    and isinstance(first.value, str)
                    and ACTION.match(first.value)
                ):
                    yield where, first.value


def test_every_action_the_code_writes_has_words() -> None:
    found = list(written_actions())
    assert len(found) > 40  # the walk finds the code's audit calls
    missing = []
    for where, action in found:
        if action.startswith("re:"):
            pattern = re.compile(action[3:] + "$")
            if not any(pattern.match(known) for known in ACTIONS):
                missing.append(f"{where}: {action[3:]}")
        elif action not in ACTIONS:
            missing.append(f"{where}: {action}")
    assert not missing, "actions with no wording in audit/wording.py: " + ", ".join(missing)
    actions = {a for _, a in found}
    assert {"access.denied", "proctoring.action", "exam.published"} <= actions
    assert any(a.startswith("re:user\\.") for a in actions)  # f"user.{purpose}_link_issued"


def test_people_and_things_are_named_once_per_type_per_page(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    bob = make_user(db, tenant_a.id, ["grader"], email="bob.named@audit.test")
    with db.unit_of_work(tenant_a.id) as uow:
        named = uow.session.get(User, (tenant_a.id, bob.id))
        assert named is not None
        named.display_name = "Bob Named"
    banks = [make_bank(db, tenant_a.id, f"Readable bank {n}") for n in range(3)]
    with db.unit_of_work(tenant_a.id, Actor("user", str(bob.id))) as uow:
        for bank in banks:
            audit.record(uow, "question_bank.updated", ("question_bank", bank), {
                "changed": ["name", "description"], "nested": {"a": 1}})  # fmt: skip
    calls: dict[str, int] = {}
    for kind, namer in list(names._namers.items()):

        def counted(uow: object, ids: object, kind: str = kind, namer: object = namer) -> object:
            calls[kind] = calls.get(kind, 0) + 1
            return namer(uow, ids)  # type: ignore[operator]

        monkeypatch.setitem(names._namers, kind, counted)
    auditor, _ = web_client(app, db, tenant_a.id, ["auditor"])
    page = auditor.get("/admin/audit", params={"action": "question_bank.updated"}).text
    assert page.count("Changed a question bank") == 3
    assert "Bob Named &lt;bob.named@audit.test&gt;" in page
    for n in range(3):
        assert f"Readable bank {n}" in page
    assert str(banks[0]) not in page.split("<tbody>")[1].split("Raw JSON")[0]  # a name, not an id
    assert calls == {"user": 1, "question_bank": 1}  # one lookup per type for the whole page
    assert "<dt>Changed</dt><dd>name, description</dd>" in page
    assert "<summary>Raw JSON</summary>" in page and "&#34;nested&#34;" in page


def test_every_subject_type_the_namers_know_has_words() -> None:
    assert names.registered() <= set(SUBJECTS)


def test_long_details_are_cut_and_nested_ones_read_as_words() -> None:
    from invigil.audit.pages import _value

    digest = "ab" * 32
    assert _value(digest).endswith("\u2026") and len(_value(digest)) <= 40
    assert _value({"sha256": digest, "count": 3}).startswith("Count: 3; Sha256: abab")
    assert _value(list(map(str, range(8)))) == "0, 1, 2, 3, 4 and 3 more"
    assert _value([{"a": 1}, {"b": 2}]) == "2 items"
    assert _value(True) == "yes" and _value(None) == "\u2014"
