"""Export then import gives the same questions, in every format; a bad file
is refused with every problem named by line, index or item."""

from __future__ import annotations

import json

import pytest

from invigil.content.formats import csv as csv_format
from invigil.content.formats import json as json_format
from invigil.content.formats import qti, qti_read
from invigil.content.schemas import QuestionIn
from tests.content.factories import SAMPLES, sample

ALL = [sample(k) for k in sorted(SAMPLES)]
EXTRA = [
    sample("multiple_choice", points=0.3),
    sample(
        "short_text", body=SAMPLES["short_text"]["body"] | {"pattern": None, "case_sensitive": True}
    ),
    sample("numeric", body=SAMPLES["numeric"]["body"] | {"value": -1e-7, "tolerance": 0}),
    sample("single_choice", tags=["a;b", "c|d"], category="Maths: algebra"),
]


@pytest.mark.parametrize("fmt", [json_format, csv_format])
def test_round_trip_every_type(fmt: object) -> None:
    items = ALL + EXTRA
    parsed = fmt.parse(fmt.dump(items))  # type: ignore[attr-defined]
    assert parsed.problems == []
    assert parsed.questions == items


def test_qti_round_trip_for_every_type() -> None:
    all_or_nothing = sample("matching")
    all_or_nothing = all_or_nothing.model_copy(
        update={"body": all_or_nothing.body.model_copy(update={"scoring": "all_or_nothing"})}
    )
    items = [(f"Q-{n}", q) for n, q in enumerate([*ALL, *EXTRA, all_or_nothing])]
    text, skipped = qti.dump(items)
    assert skipped == []
    parsed = qti_read.parse(text)
    assert parsed.problems == [] and parsed.refused == []
    assert parsed.questions == [q for _, q in items]


def test_qti_items_are_qti_3() -> None:
    text, _ = qti.dump([("Q-1", sample("single_choice"))])
    assert "http://www.imsglobal.org/xsd/imsqtiasi_v3p0" in text
    assert "<qti-assessment-item" in text and "<qti-choice-interaction" in text
    assert 'identifier="Q-1"' in text


def test_a_plain_qti_item_from_another_tool_imports() -> None:
    text = """<?xml version="1.0"?>
    <qti-assessment-item xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0" identifier="ext-1" title="x">
      <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier">
        <qti-correct-response><qti-value>B</qti-value></qti-correct-response>
      </qti-response-declaration>
      <qti-item-body><qti-choice-interaction response-identifier="RESPONSE" max-choices="1">
        <qti-prompt>Two plus two?</qti-prompt>
        <qti-simple-choice identifier="A">3</qti-simple-choice>
        <qti-simple-choice identifier="B">4</qti-simple-choice>
      </qti-choice-interaction></qti-item-body>
    </qti-assessment-item>"""
    parsed = qti_read.parse(text)
    assert parsed.problems == []
    q = parsed.questions[0]
    assert q.body.type == "single_choice" and q.body.correct == 1 and q.category == "General"


def test_json_problems_name_the_index() -> None:
    good = SAMPLES["true_false"]
    bad = SAMPLES["single_choice"] | {"points": -1}
    parsed = json_format.parse(json.dumps([good, bad, {"category": "x"}]))
    wheres = [w for w, _ in parsed.problems]
    assert "index 1" in wheres and "index 2" in wheres and "index 0" not in wheres


def test_csv_problems_name_the_line() -> None:
    text = csv_format.dump([sample("true_false"), sample("single_choice")])
    lines = text.splitlines()
    lines.append("single_choice,Geo,,easy,1,Which?,,A|B,C,,,,,,,,,")
    lines.append("numeric,Maths,,easy,1,How many?,,,,,,,,,,,,")
    lines.append("essay,Writing,,hard,2,Why?,,,,,,,,,Oops,,,")
    lines.append("ordering,History,,hard,2,Order,,,,,0.5,,,,,,a|b,")
    parsed = csv_format.parse("\r\n".join(lines))
    assert len(parsed.questions) == 2
    problems = dict(parsed.problems)
    assert "not one of the choice letters A to B" in problems["line 4"]
    assert "is not a number" in problems["line 5"]
    assert "rubric" in problems["line 6"]
    assert "tolerance: not used by ordering questions" in problems["line 7"]


def test_csv_header_problems() -> None:
    parsed = csv_format.parse("type,category,colour\nx,y,z\n")
    assert ("line 1", "missing column(s): points, prompt") in parsed.problems
    assert ("line 1", "unknown column(s): colour") in parsed.problems


def test_qti_refuses_doctypes_and_names_items() -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    assert qti_read.parse(bomb).problems[0][1].startswith("DOCTYPE")
    text, _ = qti.dump([("Q-ok", sample("numeric")), ("Q-bad", sample("single_choice"))])
    text = text.replace("<qti-value>C2</qti-value>", "<qti-value>C9</qti-value>")
    parsed = qti_read.parse(text)
    assert [w for w, _ in parsed.refused] == ["item Q-bad"]
    assert qti_read.parse("<not xml").problems[0][0] == "file"


def test_an_essay_csv_rubric_reads_back() -> None:
    text = csv_format.dump([sample("essay")])
    assert (
        "Argument\\: structure: Weak=0; Strong \\= clear=6|Language: Poor=0; Good=2; Excellent=4"
        in text
    )
    assert csv_format.parse(text).questions == [QuestionIn.model_validate(SAMPLES["essay"])]


def test_qti_export_keeps_its_prefixes_whatever_another_library_registered() -> None:
    """ElementTree's prefixes are one map for the process: a library that
    registers its own default namespace must not turn the export's items
    into ``ns1:qti-assessment-item``."""
    import xml.etree.ElementTree as ET

    saved = dict(ET._namespace_map)  # type: ignore[attr-defined]
    try:
        ET.register_namespace("", "http://www.w3.org/2000/svg")
        ET.register_namespace("inv", "urn:example:other")
        text, _ = qti.dump([("Q-1", sample("single_choice"))])
    finally:
        ET._namespace_map.clear()  # type: ignore[attr-defined]
        ET._namespace_map.update(saved)  # type: ignore[attr-defined]
    assert "<qti-assessment-item" in text and 'xmlns:inv="urn:invigil:qti"' in text
