"""The QTI importer against real items that other people wrote.

The items come from a published package (qti_corpus/SOURCES.md), downloaded
and unpacked into var/qti-corpus/ by ``make qti-corpus``; none is kept in this
repository. qti_corpus/expected.json holds, for every item, what the import
rules say it becomes, written by reading the item, not by running the
importer: either the question (compared field by field) or the words the
refusal must contain. An item may never import as something else than it
means, and a refusal must speak to the author, not name internal fields.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from invigil.content.formats import qti_read
from invigil.content.schemas import QuestionIn
from invigil.security import safe_xml

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "var/qti-corpus/citolab_qti_convert-0.2.0/tests/fixtures"
EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent / "qti_corpus/expected.json").read_text(encoding="utf-8")
)

# Words of a validation error or of the question's JSON that a refusal shown
# to an author must not contain.
INTERNAL = re.compile(
    r"\bbody\.|Input should be|String should|Field required|validation error", re.IGNORECASE
)
ITEM_ROOTS = {"assessmentItem", "qti-assessment-item"}
# The interactions Invigil has a question type for (QTI 2 and QTI 3 names).
KNOWN = {
    "choiceInteraction",
    "textEntryInteraction",
    "extendedTextInteraction",
    "orderInteraction",
    "inlineChoiceInteraction",
    "matchInteraction",
    "associateInteraction",
}
FIDELITY_TARGET = 0.9


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _camel(name: str) -> str:
    """``qti-choice-interaction`` -> ``choiceInteraction``; 2.x names unchanged."""
    if not name.startswith("qti-"):
        return name
    first, *rest = name[4:].split("-")
    return first + "".join(part.capitalize() for part in rest)


def _read(key: str) -> bytes:
    path = FIXTURES / key
    if not FIXTURES.is_dir():
        pytest.fail(f"the QTI corpus is missing ({FIXTURES}): run make qti-corpus")
    if not path.is_file():
        pytest.fail(f"{key} is not in the QTI corpus: check expected.json against SOURCES.md")
    return path.read_bytes()


def _interactions(data: bytes) -> list[str]:
    """The interactions of an item, by their QTI 2 names; a portable custom
    interaction inside a custom one counts once, as the custom one."""
    names = [_camel(_local(el.tag)) for el in safe_xml.parse(data).iter()]
    found = [n for n in names if n.endswith("Interaction") and n != "portableCustomInteraction"]
    if "portableCustomInteraction" in names and "customInteraction" not in found:
        found.append("customInteraction")
    return found


def _words(text: str) -> str:
    return " ".join(re.sub(r"[-_]", " ", text).lower().split())


def _collapse(value: Any) -> Any:
    return " ".join(value.split()) if isinstance(value, str) else value


def _comparable(question: dict[str, Any]) -> dict[str, Any]:
    """The question with the text the rules compare after collapsing
    whitespace collapsed (prompt, choices, ordering items, matching pairs)."""
    body = dict(question["body"])
    body["prompt"] = _collapse(body.get("prompt"))
    for field in ("choices", "items"):
        if isinstance(body.get(field), list):
            body[field] = [_collapse(x) for x in body[field]]
    if isinstance(body.get("pairs"), list):
        body["pairs"] = [{k: _collapse(v) for k, v in p.items()} for p in body["pairs"]]
    return question | {"body": body}


def check(key: str) -> None:
    """Fails (AssertionError) unless the importer does with ``key`` what
    expected.json says."""
    expected = EXPECTED[key]
    data = _read(key)
    parsed = qti_read.parse(data)
    said = parsed.problems + parsed.refused
    problems = [f"{where}: {message}" for where, message in said]
    # The refusal's words are looked for in what it says, not in the item's
    # name ("ITEM_HOTTEXT" says nothing about why it was refused).
    name = safe_xml.parse(data).get("identifier") or "\0"
    messages = [_words(message.replace(name, "")) for _, message in said]
    if "question" in expected:
        want = QuestionIn.model_validate(expected["question"]).model_dump(mode="json")
        assert problems == [], f"{key} should import, got problems {problems}"
        assert len(parsed.questions) == 1, f"{key} should give one question"
        got = parsed.questions[0].model_dump(mode="json")
        assert _comparable(got) == _comparable(want), f"{key}: {expected['why']}"
        notes = [_words(message) for _, message in parsed.notes]
        for word in expected["notes"]:
            assert any(_words(word) in n for n in notes), f"{key}: no note mentions {word!r}"
    else:
        assert parsed.questions == [], f"{key} should be refused: {expected['why']}"
        words = [_words(w) for w in expected["refused"]]
        assert any(all(w in m for w in words) for m in messages), (
            f"{key}: no problem mentions all of {expected['refused']}; got {problems}"
        )
        leaks = [p for p in problems if INTERNAL.search(p)]
        assert leaks == [], f"{key}: the refusal names internal fields: {leaks}"


@pytest.mark.parametrize("key", sorted(EXPECTED), ids=sorted(EXPECTED))
def test_item_imports_as_its_rules_say(key: str) -> None:
    check(key)


def test_every_item_of_the_corpus_has_an_expectation() -> None:
    _read(next(iter(EXPECTED)))  # fails with the hint when the corpus is missing
    items = sorted(
        path.relative_to(FIXTURES).as_posix()
        for path in FIXTURES.rglob("*.xml")
        if _local(safe_xml.parse(path.read_bytes()).tag) in ITEM_ROOTS
    )
    assert len(items) >= 35
    assert sorted(EXPECTED) == items


def test_fidelity_on_the_interactions_invigil_has_types_for(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Of the items made only of interactions Invigil has types for, the
    share handled as the rules say (imported exactly, or refused for the
    reason they give) is at least 90%."""
    in_scope = [k for k in sorted(EXPECTED) if set(_interactions(_read(k))) <= KNOWN]
    failed: dict[str, str] = {}
    for key in in_scope:
        try:
            check(key)
        except AssertionError as exc:
            failed[key] = str(exc).splitlines()[0]
    rate = (len(in_scope) - len(failed)) / len(in_scope)
    # How many of them import (faithfully: check passed) rather than being
    # refused for a reason the rules give; the product's target is 90 % of
    # these, which needs images, formulas and multi-part items (not yet).
    imported = [k for k in in_scope if k not in failed and "question" in EXPECTED[k]]
    with capsys.disabled():
        print(
            f"\nQTI corpus: {len(in_scope) - len(failed)} of {len(in_scope)} items with"
            f" interactions Invigil has types for handled as the rules say ({rate:.0%}, target"
            f" {FIDELITY_TARGET:.0%}); {len(imported)} of {len(in_scope)} imported"
            f" ({len(imported) / len(in_scope):.0%})"
        )
    assert len(in_scope) >= 20
    assert rate >= FIDELITY_TARGET, "\n".join(f"{k}: {why}" for k, why in failed.items())


def test_the_real_sample_package_imports_as_a_package() -> None:
    """The corpus's own content package (its manifest, items and images,
    zipped here as the tool exported it): what each item becomes, with the
    image of the first carried as a question image."""
    import hashlib
    import io
    import zipfile

    folder = FIXTURES / "sample-package"
    _read("sample-package/ITEM_CHOICE.xml")  # fails with the hint when the corpus is missing
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    parsed = qti_read.parse(buffer.getvalue())
    assert parsed.problems == []
    imported = {q.body.type: q for q in parsed.questions}
    assert sorted(imported) == ["essay", "matching", "multiple_choice", "ordering", "single_choice"]
    atom = (folder / "resources/atom.png").read_bytes()
    name = hashlib.sha256(atom).hexdigest()
    choice = imported["single_choice"].body
    assert choice.prompt_html == (
        f'<p><img src="question-image:{name}" alt="Atoom"></p>'
        "<div>Welke van de onderstaande elementen heeft de hoogste atoommassa?</div>"
    )
    assert choice.prompt == (
        "[Atoom]\n\nWelke van de onderstaande elementen heeft de hoogste atoommassa?"
    )
    assert choice.correct == 2  # type: ignore[union-attr]
    index = parsed.questions.index(imported["single_choice"])
    assert parsed.images[index] == [("atom.png", atom)]
    refused = sorted(where.split(" (")[0] for where, _ in parsed.refused)
    assert refused == ["ITEM_GAP.xml", "ITEM_HOTTEXT.xml", "ITEM_SELECT_POINT.xml", "ITEM_TEXT.xml"]
    assert any("assessment test" in str(note) for _, note in parsed.notes)
