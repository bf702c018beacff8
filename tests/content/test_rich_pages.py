"""Authors write formatted text (Markdown with formulas) on the question form;
the question page shows it as formatted text; formatted text from an import
is kept while its words stay, and the player's body carries it."""

from __future__ import annotations

from html import unescape

from fastapi import FastAPI

from invigil.content import questions, translations
from invigil.content.assemble import Slot
from invigil.content.bodies import parse_body
from invigil.content.paper import candidate_body
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase
from tests.content.factories import make_bank, make_question, sample
from tests.content.test_pages import AUTHOR, form, text_of
from tests.test_pages_matrix import web_client

MARKDOWN = "Is $\\sqrt{2} < 2$ **true**?\n\n| x | y |\n|---|---|\n| 1 | 2 |"


def test_an_author_writes_markdown_with_a_formula_and_sees_it_formatted(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    client, csrf = web_client(app, db, tenant_a.id, AUTHOR)
    bank = make_bank(db, tenant_a.id)
    r = client.post(
        "/authoring/questions/new",
        data={"csrf": csrf, "bank_id": str(bank), "type": "true_false"}
        | form("true_false", prompt="", prompt_markdown=MARKDOWN),
    )
    assert r.status_code == 303, text_of(r.text)
    page = client.get(r.headers["location"])
    assert '<div class="rich" dir="auto"><p>Is <math' in page.text
    assert "<msqrt>" in page.text and "<strong>true</strong>" in page.text
    assert "<td>1</td>" in page.text
    assert MARKDOWN.split("\n")[0] in unescape(page.text)  # the source, in the form, to edit

    bad = client.post(
        "/authoring/questions/new",
        data={"csrf": csrf, "bank_id": str(bank), "type": "true_false"}
        | form("true_false", prompt="", prompt_markdown="Broken $x^$"),
    )
    assert bad.status_code == 422
    assert "Formatted text: the formula $x^$ cannot be read" in text_of(bad.text)
    assert 'id="prompt_markdown-err"' in bad.text


def test_formatted_text_from_an_import_is_kept_while_its_words_stay(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    client, csrf = web_client(app, db, tenant_a.id, AUTHOR)
    bank = make_bank(db, tenant_a.id)
    body = sample("true_false").body.model_dump() | {
        "prompt_html": "<p>Is <math><msqrt><mn>2</mn></msqrt></math> <em>irrational</em>?</p>"
    }
    q = make_question(db, tenant_a.id, bank, "true_false", body=body)
    url = f"/authoring/questions/{q}"
    page = client.get(url)
    assert "formatted text from an import" in page.text

    same = form("true_false", prompt="Is √(2) irrational?", points="3")
    assert client.post(url, data={"csrf": csrf} | same).status_code == 303
    with db.unit_of_work(tenant_a.id) as uow:
        kept = questions.current(uow, questions.require_question(uow, q)).body
    assert (
        kept["prompt_html"].startswith("<p>Is <math>") and kept["prompt"] == "Is √(2) irrational?"
    )

    changed = form("true_false", prompt="Is the square root of two irrational?")
    assert client.post(url, data={"csrf": csrf} | changed).status_code == 303
    with db.unit_of_work(tenant_a.id) as uow:
        plain = questions.current(uow, questions.require_question(uow, q)).body
    assert plain.get("prompt_html") is None
    assert plain["prompt"] == "Is the square root of two irrational?"


def test_the_player_gets_the_formatted_text_and_a_translation_shows_plain() -> None:
    body = parse_body(
        sample("numeric").body.model_dump() | {"prompt_markdown": "What is $\\frac{1}{2}$?"}
    )
    slot = Slot(section=0, question_id="q", version_id="v", type="numeric", option_order=())
    shown = candidate_body(body, slot)
    assert shown["prompt"] == "What is (1)/(2)?"
    assert "<mfrac>" in shown["prompt_html"]
    german = translations.translated(body, {"prompt": "Was ist ein Halb?"})
    assert "prompt_html" not in candidate_body(german, slot)


def test_an_author_previews_the_formatted_text_and_nothing_is_saved(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    client, csrf = web_client(app, db, tenant_a.id, AUTHOR)
    bank = make_bank(db, tenant_a.id)
    fields = {"csrf": csrf, "bank_id": str(bank), "type": "true_false", "preview": "1"}
    r = client.post(
        "/authoring/questions/new",
        data=fields | form("true_false", prompt="", prompt_markdown=MARKDOWN),
    )
    assert r.status_code == 200
    assert 'id="markdown-preview"' in r.text and "<msqrt>" in r.text
    assert MARKDOWN.split("\n")[0] in unescape(r.text)  # the form keeps what was typed
    bad = client.post(
        "/authoring/questions/new",
        data=fields | form("true_false", prompt="", prompt_markdown="Broken $x^$"),
    )
    assert bad.status_code == 422 and 'id="prompt_markdown-err"' in bad.text
    q = make_question(db, tenant_a.id, bank, "true_false")
    on_edit = client.post(
        f"/authoring/questions/{q}",
        data={"csrf": csrf, "preview": "1"} | form("true_false", prompt_markdown="*Hi*"),
    )
    assert on_edit.status_code == 200 and "<em>Hi</em>" in on_edit.text
    with db.unit_of_work(tenant_a.id) as uow:
        assert len(questions.search(uow, questions.Search(bank_id=bank))[0]) == 1
        assert questions.current(uow, questions.require_question(uow, q)).version == 1
