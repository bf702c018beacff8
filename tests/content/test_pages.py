"""The authoring pages over HTTP (TestClient): banks, questions of every
type through the form, versions, validation in place, import with its
report, exams with sections, publish and preview; permissions and tenants."""

from __future__ import annotations

import re
import uuid
from html import unescape
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from invigil.content import exams
from invigil.content.formats import csv as csv_format
from invigil.content.formats import json as json_format
from invigil.content.models import ExamVersion, Question
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, make_tenant
from tests.content.factories import make_bank, make_exam, make_question, sample
from tests.test_pages_matrix import web_client

AUTHOR = ["exam_author", "question_manager"]

FORMS: dict[str, dict[str, object]] = {
    "single_choice": {
        "prompt": "What is the capital of France?",
        "choice": ["Lyon", "Paris", "Nice", "", ""],
        "correct": "1",
    },
    "multiple_choice": {
        "prompt": "Which are noble gases?",
        "choice": ["Helium", "Oxygen", "Neon", ""],
        "correct": ["0", "2"],
        "scoring": "proportional",
    },
    "true_false": {"prompt": "Water boils at 100 C at sea level.", "correct": "true"},
    "numeric": {"prompt": "Pi to two decimals?", "value": "3.14", "tolerance": "0.005"},
    "short_text": {
        "prompt": "Capital of Germany?",
        "accepted": "Berlin\nBerlin, Germany\n",
        "case_sensitive": "yes",
        "pattern": "berlin(er)?",
    },
    "essay": {
        "prompt": "Argue for remote work.",
        "rubric": "Structure | Weak: 0; Strong: 3\nLanguage: style | Poor: 0; Good: 1; Great: 2",
        "max_words": "300",
        "points": "5",
    },
    "ordering": {"prompt": "Earliest first.", "items": "Magna Carta\nFrench Revolution\n"},
    "matching": {"prompt": "Match.", "pairs": "Spain = Madrid\nItaly = Rome"},
}


def form(kind: str, **extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "category": "General",
        "tags": "one, Two",
        "difficulty": "easy",
        "points": "2",
        "explanation": "Because.",
    }
    return base | FORMS[kind] | extra


def text_of(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture
def author(app: FastAPI, db: BoundDatabase, tenant_a: Tenant) -> tuple[TestClient, str]:
    return web_client(app, db, tenant_a.id, AUTHOR)


def test_create_a_bank_and_refuse_a_duplicate_name_in_place(
    author: tuple[TestClient, str],
) -> None:
    client, csrf = author
    r = client.post(
        "/authoring/banks", data={"csrf": csrf, "name": "  Geography ", "description": "Maps"}
    )
    assert r.status_code == 303 and "notice" not in r.headers["location"]
    page = client.get(r.headers["location"])
    assert page.status_code == 200
    assert "<h1>Geography</h1>" in page.text and "Question bank created." in page.text
    listing = client.get("/authoring/banks")
    assert "Geography" in listing.text and 'href="/authoring/banks"' in listing.text  # nav

    again = client.post(
        "/authoring/banks", data={"csrf": csrf, "name": "Geography", "description": "x2"}
    )
    assert again.status_code == 409
    assert 'role="alert"' in again.text and "already exists" in again.text
    assert 'value="x2"' in again.text  # what was typed stays


@pytest.mark.parametrize("kind", sorted(FORMS))
def test_a_question_of_every_type_through_the_form(
    author: tuple[TestClient, str], db: BoundDatabase, tenant_a: Tenant, kind: str
) -> None:
    client, csrf = author
    bank = make_bank(db, tenant_a.id)
    blank = client.get(f"/authoring/questions/new?bank_id={bank}&type={kind}")
    assert blank.status_code == 200 and '<label for="f-prompt">Question text</label>' in blank.text
    r = client.post(
        "/authoring/questions/new",
        data={"csrf": csrf, "bank_id": str(bank), "type": kind} | form(kind),
    )
    assert r.status_code == 303, text_of(r.text)
    qid = uuid.UUID(r.headers["location"].split("/")[-1].split("?")[0])
    page = client.get(r.headers["location"])
    assert page.status_code == 200
    assert "Question created (version 1)." in page.text
    assert "Version 1 (current)" in page.text
    with db.unit_of_work(tenant_a.id) as uow:
        q = uow.get(Question, qid)
        assert q.type == kind and q.bank_id == bank
    # The edit form shows the question as the author wrote it.
    prompt = str(FORMS[kind]["prompt"])
    assert f">{prompt}</textarea>" in page.text


def test_stored_bodies_read_back_from_the_form(
    author: tuple[TestClient, str], db: BoundDatabase, tenant_a: Tenant
) -> None:
    client, csrf = author
    bank = make_bank(db, tenant_a.id)
    r = client.post(
        "/authoring/questions/new",
        data={"csrf": csrf, "bank_id": str(bank), "type": "essay"} | form("essay"),
    )
    assert r.status_code == 303
    detail = client.get(r.headers["location"])
    assert "Structure | Weak: 0; Strong: 3" in detail.text
    assert "Language: style | Poor: 0; Good: 1; Great: 2" in detail.text
    r = client.post(
        "/authoring/questions/new",
        data={"csrf": csrf, "bank_id": str(bank), "type": "multiple_choice"}
        | form("multiple_choice"),
    )
    detail = client.get(r.headers["location"])
    assert re.search(r'name="correct" value="0" checked', detail.text)
    assert re.search(r'name="correct" value="2" checked', detail.text)
    assert not re.search(r'name="correct" value="1" checked', detail.text)


def test_editing_makes_a_new_version_and_keeps_the_old_one(
    author: tuple[TestClient, str], db: BoundDatabase, tenant_a: Tenant
) -> None:
    client, csrf = author
    qid = make_question(db, tenant_a.id)
    before = client.get(f"/authoring/questions/{qid}")
    assert "Saving creates version 2" in before.text
    data = form("single_choice", prompt="What is the capital of Spain?")
    data["choice"] = ["Madrid", "Rome", ""]
    data["correct"] = "0"
    r = client.post(f"/authoring/questions/{qid}", data={"csrf": csrf} | data)
    assert r.status_code == 303 and r.headers["location"] == f"/authoring/questions/{qid}"
    page = client.get(r.headers["location"])
    assert "Version 2 (current)" in page.text
    assert "Show version 1" in page.text and "What is the capital of France?" in page.text
    assert "Saved as a new version" in page.text

    same = client.post(f"/authoring/questions/{qid}", data={"csrf": csrf} | data)
    assert same.status_code == 422 and "nothing to change" in same.text.lower()


def test_invalid_input_keeps_what_was_typed_and_says_what_is_wrong(
    author: tuple[TestClient, str], db: BoundDatabase, tenant_a: Tenant
) -> None:
    client, csrf = author
    bank = make_bank(db, tenant_a.id)
    data = form("single_choice", prompt="Typed prompt <b>", points="lots")
    data["correct"] = []
    r = client.post(
        "/authoring/questions/new",
        data={"csrf": csrf, "bank_id": str(bank), "type": "single_choice"} | data,
    )
    assert r.status_code == 422
    assert 'role="alert"' in r.text
    assert "Choices: tick the right choice next to the text." in text_of(r.text)
    assert ">Typed prompt &lt;b&gt;</textarea>" in r.text
    assert 'value="Paris"' in r.text and 'value="lots"' in r.text

    data["correct"] = "1"
    r = client.post(
        "/authoring/questions/new",
        data={"csrf": csrf, "bank_id": str(bank), "type": "single_choice"} | data,
    )
    assert r.status_code == 422
    assert 'id="points-err"' in r.text and "Points:" in text_of(r.text)

    essay = form("essay", points="9")
    r = client.post(
        "/authoring/questions/new",
        data={"csrf": csrf, "bank_id": str(bank), "type": "essay"} | essay,
    )
    assert r.status_code == 422
    assert "add up to 5 points, but the question is worth 9" in text_of(r.text)
    bad_rubric = form("essay", rubric="Just a line")
    r = client.post(
        "/authoring/questions/new",
        data={"csrf": csrf, "bank_id": str(bank), "type": "essay"} | bad_rubric,
    )
    assert r.status_code == 422 and "Rubric: rubric line 1" in text_of(r.text)
    with db.unit_of_work(tenant_a.id) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Question)) == 0


def test_archive_stops_editing(
    author: tuple[TestClient, str], db: BoundDatabase, tenant_a: Tenant
) -> None:
    client, csrf = author
    qid = make_question(db, tenant_a.id)
    r = client.post(f"/authoring/questions/{qid}/archive", data={"csrf": csrf})
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert "archived" in page.text and "Edit question" not in page.text
    again = client.post(f"/authoring/questions/{qid}", data={"csrf": csrf} | form("single_choice"))
    assert again.status_code == 409


CSV_GOOD = (
    "type,category,points,prompt,choices,correct,tags\n"
    "single_choice,Geo,1,Capital of France?,Lyon|Paris|Nice,B,capitals\n"
    "true_false,Science,1,The sun is a star.,,true,\n"
)
CSV_BAD = CSV_GOOD + "numeric,Maths,0,Two plus two?,,four,\n"


def test_import_shows_the_report_and_imports_nothing_or_everything(
    author: tuple[TestClient, str], db: BoundDatabase, tenant_a: Tenant
) -> None:
    client, csrf = author
    bank = make_bank(db, tenant_a.id)
    url = f"/authoring/banks/{bank}/import"
    r = client.post(
        url, data={"csrf": csrf, "format": ""}, files={"file": ("q.csv", CSV_BAD, "text/csv")}
    )
    assert r.status_code == 422
    shown = text_of(r.text)
    assert "Nothing was imported" in shown and "line 4" in shown
    assert 'role="alert"' in r.text and "Problems in q.csv" in shown
    assert "This bank has no questions yet." in shown

    r = client.post(url, data={"csrf": csrf}, files={"file": ("q.csv", CSV_GOOD, "text/csv")})
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert "Imported 2 questions." in page.text
    assert "Capital of France?" in page.text and "The sun is a star." in page.text

    # Search by text, tag, type and category.
    assert "The sun" not in client.get(f"/authoring/banks/{bank}?tag=capitals").text
    assert "Capital of France" not in client.get(f"/authoring/banks/{bank}?type=true_false").text
    assert "No question matches" in client.get(f"/authoring/banks/{bank}?category=nope").text
    assert "The sun" in client.get(f"/authoring/banks/{bank}?q=sun").text

    exported = client.get(f"/authoring/banks/{bank}/export?format=csv")
    assert exported.status_code == 200 and "Capital of France?" in exported.text
    assert "attachment" in exported.headers["content-disposition"]

    no_file = client.post(url, data={"csrf": csrf})
    assert no_file.status_code == 422 and "choose a file" in no_file.text


def test_bank_pages_a_page_at_a_time(
    author: tuple[TestClient, str], db: BoundDatabase, tenant_a: Tenant
) -> None:
    client, csrf = author
    bank = make_bank(db, tenant_a.id)
    rows = "".join(f"true_false,Science,1,Statement {n:02d},,true,\n" for n in range(30))
    client.post(
        f"/authoring/banks/{bank}/import",
        data={"csrf": csrf},
        files={"file": ("q.csv", "type,category,points,prompt,choices,correct,tags\n" + rows)},
    )
    first = client.get(f"/authoring/banks/{bank}")
    assert "Statement 00" in first.text and "Statement 29" not in first.text
    nxt = re.search(r'href="([^"]+)" rel="next">Next', first.text)
    assert nxt
    second = client.get(unescape(nxt.group(1)))
    assert "Statement 29" in second.text and "Statement 00" not in second.text


def test_an_exam_from_create_to_sections_publish_and_preview(
    author: tuple[TestClient, str], db: BoundDatabase, tenant_a: Tenant
) -> None:
    client, csrf = author
    bank = make_bank(db, tenant_a.id, "Pool bank")
    fixed = make_question(db, tenant_a.id, bank)
    for kind in ("true_false", "numeric", "ordering", "matching"):
        make_question(db, tenant_a.id, bank, kind)

    r = client.post(
        "/authoring/exams",
        data={"csrf": csrf, "title": "Safety Basics 2026", "slug": "", "description": "Go."},
    )
    assert r.status_code == 303
    exam_url = r.headers["location"].split("?")[0]
    page = client.get(r.headers["location"])
    assert "Exam created as a draft" in page.text and ">draft</span>" in page.text
    assert "safety-basics-2026" in page.text

    # Publishing an empty exam says why, in place.
    r = client.post(f"{exam_url}/publish", data={"csrf": csrf})
    assert r.status_code == 422 and "add at least one section" in r.text.lower()

    picker = client.get(f"{exam_url}?pick_bank={bank}")
    assert f'value="{fixed}"' in picker.text
    r = client.post(
        f"{exam_url}/sections/fixed",
        data={"csrf": csrf, "bank_id": str(bank), "title": "Core", "question_ids": [str(fixed)]},
    )
    assert r.status_code == 303 and r.headers["location"] == exam_url
    assert "Section added." in client.get(exam_url).text
    bad = client.post(
        f"{exam_url}/sections/pool",
        data={"csrf": csrf, "bank_id": str(bank), "count": "2", "easy": "1"},
    )
    assert bad.status_code == 422 and "either count or difficulty_mix" in bad.text
    assert 'value="2"' in bad.text
    r = client.post(
        f"{exam_url}/sections/pool",
        data={"csrf": csrf, "bank_id": str(bank), "title": "Random", "count": "3"},
    )
    assert r.status_code == 303
    page = client.get(exam_url)
    assert "Section 1: Core" in page.text and "Section 2: Random" in page.text
    assert "Draws <strong>3</strong> questions" in page.text

    # Its questions carry 1 to 3 points: publishing says so at the section,
    # whose scale field takes what it is worth on every paper.
    r = client.post(f"{exam_url}/publish", data={"csrf": csrf})
    assert r.status_code == 422
    assert 'href="#section-1-scale"' in r.text and 'id="section-1-scale-err"' in r.text
    assert "questions in this pool are worth 1, 2, 2.5 and 3 points" in text_of(r.text)
    assert 'aria-invalid="true"' in r.text.split('id="section-1-scale"')[1].split(">")[0]
    scale = {"csrf": csrf, "index": "1", "action": "scale"}
    r = client.post(f"{exam_url}/sections/change", data=scale | {"scale_to_points": "0"})
    assert r.status_code == 422 and 'href="#section-1-scale"' in r.text
    r = client.post(f"{exam_url}/sections/change", data=scale | {"scale_to_points": "6"})
    assert r.status_code == 303
    assert "Worth <strong>6 points</strong> on every paper" in client.get(exam_url).text

    r = client.post(
        f"{exam_url}/settings",
        data={
            "csrf": csrf, "time_limit_minutes": "45", "attempts_allowed": "2",
            "navigation": "linear", "pass_mark_percent": "60", "results_release": "immediately",
            "proctoring_preset": "strict", "shuffle_questions": "yes", "extra_time_percent": "25",
            "opens_at": "2026-12-01T09:00", "closes_at": "2026-12-01T08:00", "consent_text": "OK",
        },
    )  # fmt: skip
    assert r.status_code == 422 and "close after it opens" in r.text
    assert 'value="45"' in r.text  # kept
    r = client.post(
        f"{exam_url}/settings",
        data={
            "csrf": csrf, "time_limit_minutes": "45", "attempts_allowed": "2",
            "navigation": "linear", "pass_mark_percent": "60", "results_release": "immediately",
            "proctoring_preset": "strict", "shuffle_questions": "yes", "extra_time_percent": "25",
            "opens_at": "2026-12-01T09:00", "closes_at": "", "consent_text": "I agree.",
        },
    )  # fmt: skip
    assert r.status_code == 303
    exam_id = uuid.UUID(exam_url.rsplit("/", 1)[1])
    with db.unit_of_work(tenant_a.id) as uow:
        exam = exams.require_exam(uow, exam_id)
        assert exam.settings["time_limit_minutes"] == 45
        assert exam.settings["shuffle_options"] is False
        assert exam.settings["accommodations"] == {"extra_time_percent": 25}
        assert exam.settings["opens_at"].startswith("2026-12-01T09:00")
        assert exam.consent_text == "I agree."

    client.get(exam_url)  # shows (and spends) the one-shot message of the last save
    preview = client.get(f"{exam_url}/preview?seed=7")
    assert preview.status_code == 200
    shown = text_of(preview.text)
    assert "Paper number (seed): 7" in shown and "4 questions" in shown
    assert "7 points" in shown and "every paper is worth the same: 7 points" in shown
    assert "What is the capital of France?" in shown and "right answer" not in shown.lower()
    assert client.get(f"{exam_url}/preview?seed=7").text == preview.text  # same seed, same paper
    with db.unit_of_work(tenant_a.id) as uow:
        assert uow.session.scalar(select(func.count()).select_from(ExamVersion)) == 0

    r = client.post(f"{exam_url}/publish", data={"csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == exam_url
    page = client.get(exam_url)
    assert ">published</span>" in page.text and "Version 1 is published" in page.text
    assert "Exam published." in page.text
    assert "Publish changes as version" not in page.text  # nothing changed: not offered
    again = client.post(f"{exam_url}/publish", data={"csrf": csrf})
    assert again.status_code == 409 and "Nothing changed since version 1" in again.text
    assert "from published version 1" in client.get(f"{exam_url}/preview").text

    r = client.post(f"{exam_url}/retire", data={"csrf": csrf})
    assert r.status_code == 303
    retired = client.get(exam_url)
    assert retired.status_code == 200  # its settings shown read-only (the time limit in words)
    assert "Save settings" not in retired.text and "45 minutes" in text_of(retired.text)


def test_an_exam_slug_problem_is_shown_in_place(author: tuple[TestClient, str]) -> None:
    client, csrf = author
    r = client.post("/authoring/exams", data={"csrf": csrf, "title": "Fine", "slug": "Not OK!"})
    assert r.status_code == 422
    assert "Short name:" in text_of(r.text) and 'value="Not OK!"' in r.text


def test_a_grader_can_read_but_not_change(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    client, csrf = web_client(app, db, tenant_a.id, ["grader"])
    bank = make_bank(db, tenant_a.id)
    qid = make_question(db, tenant_a.id, bank)
    page = client.get(f"/authoring/banks/{bank}")
    assert page.status_code == 200 and "Import file" not in page.text
    assert "Edit question" not in client.get(f"/authoring/questions/{qid}").text
    assert client.post("/authoring/banks", data={"csrf": csrf, "name": "x"}).status_code == 403
    assert client.get(f"/authoring/questions/new?bank_id={bank}").status_code == 403
    assert (
        client.post(f"/authoring/questions/{qid}/archive", data={"csrf": csrf}).status_code == 403
    )
    exam = make_exam(db, tenant_a.id)
    assert "Save settings" not in client.get(f"/authoring/exams/{exam}").text
    assert client.post(f"/authoring/exams/{exam}/publish", data={"csrf": csrf}).status_code == 403


def test_a_post_without_the_csrf_token_is_refused(
    author: tuple[TestClient, str], db: BoundDatabase, tenant_a: Tenant
) -> None:
    client, _ = author
    assert client.post("/authoring/banks", data={"name": "x"}).status_code == 403
    exam = make_exam(db, tenant_a.id)
    assert client.post(f"/authoring/exams/{exam}/publish", data={"csrf": "nope"}).status_code == 403


def test_another_tenants_ids_are_not_found(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant, settings: Settings
) -> None:
    bank = make_bank(db, tenant_a.id)
    qid = make_question(db, tenant_a.id, bank)
    exam = make_exam(db, tenant_a.id)
    other = make_tenant(db, settings)
    client, csrf = web_client(app, db, other.id, ["tenant_admin"])
    for path in (
        f"/authoring/banks/{bank}",
        f"/authoring/banks/{bank}/export?format=json",
        f"/authoring/questions/{qid}",
        f"/authoring/questions/new?bank_id={bank}&type=essay",
        f"/authoring/exams/{exam}",
        f"/authoring/exams/{exam}/preview",
    ):
        assert client.get(path).status_code == 404, path
    r = client.post(
        "/authoring/questions/new",
        data={"csrf": csrf, "bank_id": str(bank), "type": "true_false"} | form("true_false"),
    )
    assert r.status_code == 404
    r = client.post(
        f"/authoring/exams/{exam}/sections/fixed",
        data={"csrf": csrf, "question_ids": [str(qid)]},
    )
    assert r.status_code == 404


def test_publish_is_offered_only_when_the_draft_differs_from_the_latest_version(
    author: tuple[TestClient, str], db: BoundDatabase, tenant_a: Tenant
) -> None:
    client, csrf = author
    exam = make_exam(db, tenant_a.id)
    url = f"/authoring/exams/{exam}"
    assert ">Publish</button>" in client.get(url).text
    assert client.post(f"{url}/publish", data={"csrf": csrf}).status_code == 303
    page = client.get(url)
    assert (
        "Publish changes as version" not in page.text and "Nothing has changed since" in page.text
    )

    refused = client.post(f"{url}/publish", data={"csrf": csrf})
    assert refused.status_code == 409
    assert 'id="error-summary"' in refused.text and 'href="#publish-h"' in refused.text

    details = {"csrf": csrf, "title": "A new title", "slug": "", "description": ""}
    details["slug"] = re.search(r'id="d-slug" name="slug" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    assert client.post(url, data=details).status_code == 303
    changed = client.get(url)
    assert "Publish changes as version 2" in changed.text
    assert "There are changes that are not published yet" in changed.text


def test_importing_the_same_file_twice_skips_exact_duplicates_and_says_so(
    author: tuple[TestClient, str], db: BoundDatabase, tenant_a: Tenant
) -> None:
    client, csrf = author
    bank = make_bank(db, tenant_a.id)
    two = [sample("single_choice"), sample("numeric")]
    url = f"/authoring/banks/{bank}/import"

    def upload(items: list[Any], fmt: str = "json") -> str:
        dump = json_format.dump if fmt == "json" else csv_format.dump
        r = client.post(
            url,
            data={"csrf": csrf, "format": fmt},
            files={"file": (f"q.{fmt}", dump(items), "text/plain")},
        )
        assert r.status_code == 303, r.text
        return text_of(client.get(r.headers["location"]).text)

    first = upload(two)
    assert "Imported 2 questions." in first and "Skipped" not in first
    again = upload(two, "csv")  # the same questions in another format: the same content
    assert "Imported 0 questions. Skipped 2 exact duplicates" in again
    more = upload([*two, sample("numeric", points=3.0), sample("true_false")])
    assert "Imported 2 questions. Skipped 2 exact duplicates" in more
    with db.unit_of_work(tenant_a.id) as uow:
        count = uow.session.scalar(
            select(func.count()).select_from(Question).where(Question.bank_id == bank)
        )
    assert count == 4
