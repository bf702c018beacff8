"""A cohort of submitted attempts of one exam version, sat through the
candidate's real routes, for the results tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from invigil.settings import Settings
from tests.conftest import BoundDatabase, make_tenant
from tests.delivery.factories import exam_with_every_type, kit_for, make_invitation, token_of
from tests.delivery.test_attempts import begun, item

# One answer per question of tests.delivery.factories.TYPES (a correct one
# for most; the essay waits for a grader).
ANSWERS: list[Any] = [
    0,
    [0],
    True,
    "3.14",
    "Berlin",
    "An essay of a few words.",
    [0, 1, 2],
    [0, 1, 2],
]


@dataclass(frozen=True)
class Cohort:
    tenant_id: uuid.UUID
    exam_id: uuid.UUID
    attempts: list[uuid.UUID]
    names: list[str]


def sit(
    db: BoundDatabase,
    app: FastAPI,
    settings: Settings,
    first_question_ms: list[int],
    *,
    other_ms: int = 1000,
    unfinished: int = 0,
    exam_of: Callable[[uuid.UUID], uuid.UUID] | None = None,
    answers: list[Any] | None = None,
    ms: Callable[[int, int], int] | None = None,
) -> Cohort:
    """One submitted attempt per entry of ``first_question_ms`` (the time on
    question 1; every other question takes ``other_ms``, or ``ms(attempt,
    question)`` when given), and ``unfinished`` attempts begun but never
    submitted. The exam has one question of every type, or is ``exam_of``
    the new tenant's (then give its ``answers``)."""
    tenant = make_tenant(db, settings)
    if exam_of is None:
        exam = exam_with_every_type(db, tenant.id, settings={"pass_mark_percent": 50})
    else:
        exam = exam_of(tenant.id)
    given = ANSWERS if answers is None else answers
    kit = kit_for(settings)
    done, names = [], []
    for n, first in enumerate([*first_question_ms, *([None] * unfinished)]):
        name = f"Cand {n} Idate"
        made = make_invitation(db, tenant.id, kit, exam, name=name)
        client, state = begun(app, token_of(made))
        if first is None:
            continue

        def spent(i: int, n: int = n, first: int = first) -> int:
            if ms is not None:
                return ms(n, i)
            return first if i == 0 else other_ms

        items = [item(i, r, i + 1, time_ms=spent(i)) for i, r in enumerate(given)]
        r = client.post(f"/take/{token_of(made)}/api/submit", json={"items": items})
        assert r.status_code == 200 and r.json()["status"] == "submitted", r.text
        done.append(uuid.UUID(state["attempt_id"]))
        names.append(name)
    return Cohort(tenant.id, exam, done, names)
