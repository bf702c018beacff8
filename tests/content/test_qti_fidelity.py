"""A QTI item imports as exactly what it means and how it scores, or is refused
with a sentence saying why: never merged, never rescored, never shortened.

Each case is a shape real item banks use that an earlier importer changed
silently (the stem outside ``qti-prompt``, inline feedback in a choice, two
blanks merged, partial credit made full, a relative tolerance read as
absolute, a missing ``max-choices``, conditional feedback shown to all,
formulas flattened, other encodings and QTI 2.x refused).
"""

from __future__ import annotations

import re

from invigil.content.formats import qti_read

NS = 'xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0"'
INTERNAL = re.compile(r"\bbody\.|Input should|String should|Field required|validation error")


def item(body: str, declarations: str = "", processing: str = "", attrs: str = "") -> str:
    return (
        f'<qti-assessment-item {NS} identifier="it-1" title="t" adaptive="false" '
        f'time-dependent="false"{attrs}>{declarations}'
        f"<qti-item-body>{body}</qti-item-body>{processing}</qti-assessment-item>"
    )


def choice_decl(*right: str, cardinality: str = "single", mapping: str = "") -> str:
    values = "".join(f"<qti-value>{r}</qti-value>" for r in right)
    return (
        f'<qti-response-declaration identifier="RESPONSE" cardinality="{cardinality}" '
        f'base-type="identifier"><qti-correct-response>{values}</qti-correct-response>'
        f"{mapping}</qti-response-declaration>"
    )


MATCH = (
    '<qti-response-processing template="https://purl.imsglobal.org/spec/qti/v3p0/'
    'rptemplates/match_correct.xml"/>'
)
MAP = (
    '<qti-response-processing template="https://purl.imsglobal.org/spec/qti/v3p0/'
    'rptemplates/map_response.xml"/>'
)


def one(text: str | bytes) -> dict:
    parsed = qti_read.parse(text)
    assert not parsed.problems and not parsed.refused, (parsed.problems, parsed.refused)
    assert len(parsed.questions) == 1
    return parsed.questions[0].model_dump(mode="json")


def refused(text: str | bytes) -> str:
    parsed = qti_read.parse(text)
    assert not parsed.questions, parsed.questions
    assert len(parsed.refused) == 1, (parsed.problems, parsed.refused)
    message = str(parsed.refused[0][1])
    assert not INTERNAL.search(message), message
    return message


def choices(*texts: str) -> str:
    return "".join(
        f'<qti-simple-choice identifier="{chr(65 + i)}">{t}</qti-simple-choice>'
        for i, t in enumerate(texts)
    )


def test_the_stem_outside_the_prompt_and_a_candidate_passage_are_kept() -> None:
    body = (
        '<qti-rubric-block view="candidate" use="instructions"><qti-content-body>'
        "<p>Read the passage: water boils at 100 °C at sea level.</p>"
        "</qti-content-body></qti-rubric-block>"
        '<qti-rubric-block view="scorer"><qti-content-body><p>SECRET scoring hint</p>'
        "</qti-content-body></qti-rubric-block>"
        "<p>Answer using the passage.</p>"
        '<qti-choice-interaction response-identifier="RESPONSE" max-choices="1">'
        "<qti-prompt>At what temperature does water boil?</qti-prompt>"
        + choices("50 °C", "100 °C")
        + "</qti-choice-interaction>"
    )
    q = one(item(body, choice_decl("B"), MATCH))
    assert q["body"]["prompt"] == (
        "Read the passage: water boils at 100 °C at sea level.\n\n"
        "Answer using the passage.\n\nAt what temperature does water boil?"
    )
    assert "SECRET" not in q["body"]["prompt"]
    assert q["body"]["correct"] == 1 and q["body"]["type"] == "single_choice"


def test_a_stem_written_as_paragraphs_without_a_prompt_imports() -> None:
    body = (
        "<p>Which planet is <em>largest</em>?</p>"
        '<qti-choice-interaction response-identifier="RESPONSE" max-choices="1">'
        + choices("Mars", "Jupiter")
        + "</qti-choice-interaction>"
    )
    assert one(item(body, choice_decl("B"), MATCH))["body"]["prompt"] == (
        "Which planet is largest?"
    )


def test_a_text_entry_keeps_its_task_and_the_line_with_the_blank() -> None:
    decl = (
        '<qti-response-declaration identifier="RESPONSE" cardinality="single" '
        'base-type="string"><qti-correct-response><qti-value>Paris</qti-value>'
        "</qti-correct-response></qti-response-declaration>"
    )
    body = (
        "<p>Complete the sentence.</p>"
        '<p>The capital of France is <qti-text-entry-interaction response-identifier="RESPONSE"/>.'
        "</p>"
    )
    q = one(item(body, decl, MATCH))
    assert q["body"]["prompt"] == "Complete the sentence.\n\nThe capital of France is ____."
    # match_correct compares strings exactly, case included
    assert q["body"]["accepted"] == ["Paris"] and q["body"]["case_sensitive"] is True


def test_inline_feedback_never_joins_the_choice_and_is_noted() -> None:
    body = (
        '<qti-choice-interaction response-identifier="RESPONSE" max-choices="1">'
        "<qti-prompt>The earth is round.</qti-prompt>"
        '<qti-simple-choice identifier="T">True<qti-feedback-inline outcome-identifier="FB" '
        'identifier="T" show-hide="show">That\'s correct</qti-feedback-inline>'
        "</qti-simple-choice>"
        '<qti-simple-choice identifier="F">False</qti-simple-choice>'
        "</qti-choice-interaction>"
    )
    parsed = qti_read.parse(item(body, choice_decl("T"), MATCH))
    assert parsed.questions[0].body.choices == ["True", "False"]  # type: ignore[union-attr]
    assert any("feedback" in str(n) for _, n in parsed.notes)


def test_conditional_modal_feedback_is_not_an_explanation_for_everyone() -> None:
    feedback = (
        '<qti-modal-feedback outcome-identifier="FEEDBACK" identifier="WRONG" show-hide="show">'
        "<qti-content-body>Only for wrong answers: the answer is B.</qti-content-body>"
        "</qti-modal-feedback>"
    )
    body = (
        '<qti-choice-interaction response-identifier="RESPONSE" max-choices="1">'
        "<qti-prompt>Pick B.</qti-prompt>" + choices("A", "B") + "</qti-choice-interaction>"
    )
    q = one(item(body, choice_decl("B"), MATCH + feedback))
    assert q["body"]["explanation"] == ""
    assert "answer is B" not in q["body"]["prompt"]


def test_two_interactions_are_refused_not_merged() -> None:
    decl = "".join(
        f'<qti-response-declaration identifier="R{i}" cardinality="single" base-type="string">'
        f"<qti-correct-response><qti-value>{w}</qti-value></qti-correct-response>"
        "</qti-response-declaration>"
        for i, w in ((1, "red"), (2, "blue"))
    )
    body = (
        '<p>Roses are <qti-text-entry-interaction response-identifier="R1"/>, violets are '
        '<qti-text-entry-interaction response-identifier="R2"/>.</p>'
    )
    assert "2 interactions" in refused(item(body, decl, ""))


def test_partial_credit_for_a_single_choice_is_refused_not_made_full() -> None:
    mapping = (
        '<qti-mapping default-value="0"><qti-map-entry map-key="A" mapped-value="1"/>'
        '<qti-map-entry map-key="B" mapped-value="0.5"/></qti-mapping>'
    )
    body = (
        '<qti-choice-interaction response-identifier="RESPONSE" max-choices="1">'
        "<qti-prompt>Best answer?</qti-prompt>"
        + choices("Best", "Half right", "Wrong")
        + "</qti-choice-interaction>"
    )
    assert "part of the points" in refused(item(body, choice_decl("A", mapping=mapping), MAP))


def test_a_mapping_of_full_points_and_zero_is_all_or_nothing() -> None:
    mapping = (
        '<qti-mapping default-value="0"><qti-map-entry map-key="A" mapped-value="2"/>'
        '<qti-map-entry map-key="B" mapped-value="0"/></qti-mapping>'
    )
    body = (
        '<qti-choice-interaction response-identifier="RESPONSE" max-choices="1">'
        "<qti-prompt>Pick A.</qti-prompt>" + choices("A", "B") + "</qti-choice-interaction>"
    )
    q = one(item(body, choice_decl("A", mapping=mapping), MAP))
    assert q["points"] == 2 and q["body"]["correct"] == 0


def test_negative_marking_without_a_floor_is_refused() -> None:
    mapping = (
        '<qti-mapping default-value="0"><qti-map-entry map-key="A" mapped-value="1"/>'
        '<qti-map-entry map-key="B" mapped-value="1"/><qti-map-entry map-key="C" '
        'mapped-value="-1"/></qti-mapping>'
    )
    body = (
        '<qti-choice-interaction response-identifier="RESPONSE" max-choices="0">'
        "<qti-prompt>Pick the primes.</qti-prompt>"
        + choices("2", "3", "4")
        + "</qti-choice-interaction>"
    )
    decl = choice_decl("A", "B", cardinality="multiple", mapping=mapping)
    assert "below 0" in refused(item(body, decl, MAP))


def test_plus_and_minus_shares_floored_at_zero_are_proportional() -> None:
    mapping = (
        '<qti-mapping default-value="0" lower-bound="0" upper-bound="2">'
        '<qti-map-entry map-key="A" mapped-value="1"/><qti-map-entry map-key="B" '
        'mapped-value="1"/><qti-map-entry map-key="C" mapped-value="-1"/></qti-mapping>'
    )
    body = (
        '<qti-choice-interaction response-identifier="RESPONSE" max-choices="0">'
        "<qti-prompt>Pick the primes.</qti-prompt>"
        + choices("2", "3", "4")
        + "</qti-choice-interaction>"
    )
    q = one(item(body, choice_decl("A", "B", cardinality="multiple", mapping=mapping), MAP))
    assert q["body"]["scoring"] == "proportional" and q["points"] == 2


def test_right_choices_without_a_penalty_are_refused_not_made_proportional() -> None:
    mapping = (
        '<qti-mapping default-value="0" lower-bound="0"><qti-map-entry map-key="A" '
        'mapped-value="1"/><qti-map-entry map-key="B" mapped-value="1"/></qti-mapping>'
    )
    body = (
        '<qti-choice-interaction response-identifier="RESPONSE" max-choices="0">'
        "<qti-prompt>Pick the primes.</qti-prompt>"
        + choices("2", "3", "4")
        + "</qti-choice-interaction>"
    )
    decl = choice_decl("A", "B", cardinality="multiple", mapping=mapping)
    assert "its own points" in refused(item(body, decl, MAP))


def test_a_relative_tolerance_is_a_percentage_of_the_right_answer() -> None:
    decl = (
        '<qti-response-declaration identifier="RESPONSE" cardinality="single" '
        'base-type="float"><qti-correct-response><qti-value>200</qti-value>'
        "</qti-correct-response></qti-response-declaration>"
    )
    processing = (
        "<qti-response-processing><qti-response-condition><qti-response-if>"
        '<qti-equal tolerance-mode="relative" tolerance="5"><qti-variable identifier="RESPONSE"/>'
        '<qti-correct identifier="RESPONSE"/></qti-equal>'
        '<qti-set-outcome-value identifier="SCORE"><qti-base-value base-type="float">1'
        "</qti-base-value></qti-set-outcome-value></qti-response-if></qti-response-condition>"
        "</qti-response-processing>"
    )
    body = '<p>How far, in km? <qti-text-entry-interaction response-identifier="RESPONSE"/></p>'
    q = one(item(body, decl, processing))
    assert q["body"]["type"] == "numeric" and q["body"]["value"] == 200
    assert q["body"]["tolerance"] == 10  # 5 % of 200, not 5


def test_an_asymmetric_tolerance_is_refused() -> None:
    decl = (
        '<qti-response-declaration identifier="RESPONSE" cardinality="single" '
        'base-type="float"><qti-correct-response><qti-value>3</qti-value>'
        "</qti-correct-response></qti-response-declaration>"
    )
    processing = (
        "<qti-response-processing><qti-response-condition><qti-response-if>"
        '<qti-equal tolerance-mode="absolute" tolerance="0.1 0.5">'
        '<qti-variable identifier="RESPONSE"/><qti-correct identifier="RESPONSE"/></qti-equal>'
        '<qti-set-outcome-value identifier="SCORE"><qti-base-value base-type="float">1'
        "</qti-base-value></qti-set-outcome-value></qti-response-if></qti-response-condition>"
        "</qti-response-processing>"
    )
    body = '<p>Pi to one decimal: <qti-text-entry-interaction response-identifier="RESPONSE"/></p>'
    assert "below and above" in refused(item(body, decl, processing))


def test_a_missing_max_choices_is_one_as_qti_says() -> None:
    body = (
        '<qti-choice-interaction response-identifier="RESPONSE">'
        "<qti-prompt>Pick one.</qti-prompt>" + choices("A", "B") + "</qti-choice-interaction>"
    )
    assert one(item(body, choice_decl("A"), MATCH))["body"]["type"] == "single_choice"


def test_partial_credit_for_a_short_answer_is_refused_and_case_is_kept() -> None:
    decl = (
        '<qti-response-declaration identifier="RESPONSE" cardinality="single" '
        'base-type="string"><qti-correct-response><qti-value>York</qti-value>'
        '</qti-correct-response><qti-mapping default-value="0">{entries}</qti-mapping>'
        "</qti-response-declaration>"
    )
    body = '<p>City? <qti-text-entry-interaction response-identifier="RESPONSE"/></p>'
    partial = decl.format(
        entries='<qti-map-entry map-key="York" mapped-value="1"/>'
        '<qti-map-entry map-key="york" mapped-value="0.5"/>'
    )
    assert "'york'" in refused(item(body, partial, MAP))
    # case-sensitive absent means true (as QTIWorks reads it)
    full = decl.format(
        entries='<qti-map-entry map-key="York" mapped-value="1"/>'
        '<qti-map-entry map-key="Jorvik" mapped-value="1"/>'
    )
    q = one(item(body, full, MAP))
    assert q["body"]["accepted"] == ["York", "Jorvik"] and q["body"]["case_sensitive"] is True


def test_a_formula_is_carried_as_mathml_and_images_are_refused_by_name() -> None:
    math = (
        '<p>Is <math xmlns="http://www.w3.org/1998/Math/MathML"><msqrt><mn>2</mn></msqrt>'
        "<mo>&lt;</mo><mn>2</mn></math> <em>true</em>?</p>"
    )
    tail = (
        '<qti-choice-interaction response-identifier="RESPONSE" max-choices="1">'
        + choices("Yes", "No")
        + "</qti-choice-interaction>"
    )
    q = one(item(math + tail, choice_decl("A"), MATCH))
    assert q["body"]["prompt_html"] == (
        "<p>Is <math><msqrt><mn>2</mn></msqrt><mo>&lt;</mo><mn>2</mn></math> <em>true</em>?</p>"
    )
    assert q["body"]["prompt"] == "Is √(2)<2 true?"  # the plain text says the same
    in_choice = (
        '<qti-choice-interaction response-identifier="RESPONSE" max-choices="1">'
        "<qti-prompt>Which is larger?</qti-prompt>"
        '<qti-simple-choice identifier="A"><math xmlns="http://www.w3.org/1998/Math/MathML">'
        "<msqrt><mn>2</mn></msqrt></math></qti-simple-choice>"
        '<qti-simple-choice identifier="B">1</qti-simple-choice></qti-choice-interaction>'
    )
    assert "a choice shows a formula" in refused(item(in_choice, choice_decl("A"), MATCH))
    image = '<p>Which country? <img src="images/map.png" alt="a map"/></p>'
    assert "images/map.png" in refused(item(image + tail, choice_decl("A"), MATCH))


def test_formatting_is_kept_and_plain_paragraphs_stay_plain_text() -> None:
    tail = (
        '<qti-choice-interaction response-identifier="RESPONSE" max-choices="1">'
        + choices("Yes", "No")
        + "</qti-choice-interaction>"
    )
    plain = one(item("<p>First line.</p><p>Second line.</p>" + tail, choice_decl("A"), MATCH))
    assert plain["body"]["prompt_html"] is None
    assert plain["body"]["prompt"] == "First line.\n\nSecond line."
    table = (
        '<p onclick="steal()">Read the <strong>table</strong>:</p><table><tr><th>x</th><th>y</th>'
        "</tr><tr><td>1</td><td>2</td></tr></table><script>alert(1)</script>"
        '<p style="color:red">Is y = 2x?</p>'
    )
    q = one(item(table + tail, choice_decl("A"), MATCH))
    assert q["body"]["prompt_html"] == (
        "<p>Read the <strong>table</strong>:</p><table><tbody><tr><th>x</th><th>y</th></tr>"
        "<tr><td>1</td><td>2</td></tr></tbody></table><p>Is y = 2x?</p>"
    )
    assert q["body"]["prompt"] == "Read the table:\n\nx y\n\n1 2\n\nIs y = 2x?"


def test_declared_encodings_are_honoured() -> None:
    body = (
        '<qti-choice-interaction response-identifier="RESPONSE" max-choices="1">'
        "<qti-prompt>Café or thé?</qti-prompt>"
        + choices("Café", "Thé")
        + "</qti-choice-interaction>"
    )
    text = item(body, choice_decl("A"), MATCH)
    for encoding in ("ISO-8859-1", "UTF-16", "windows-1252"):
        data = f'<?xml version="1.0" encoding="{encoding}"?>{text}'.encode(encoding.lower())
        q = one(data)
        assert q["body"]["prompt"] == "Café or thé?" and q["body"]["choices"] == ["Café", "Thé"]
    shift_jis = f'<?xml version="1.0" encoding="Shift_JIS"?>{text}'.encode("shift_jis", "replace")
    parsed = qti_read.parse(shift_jis)
    assert not parsed.questions and "UTF-8" in parsed.problems[0][1]


def test_qti_2_1_items_import_through_the_same_rules() -> None:
    v2 = """<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="v2"
        title="v2" adaptive="false" timeDependent="false" xml:lang="de-DE">
      <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">
        <correctResponse><value>B</value></correctResponse>
      </responseDeclaration>
      <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>
      <itemBody><p>Hauptstadt von Deutschland?</p>
        <choiceInteraction responseIdentifier="RESPONSE" shuffle="true" maxChoices="1">
          <simpleChoice identifier="A">Bonn</simpleChoice>
          <simpleChoice identifier="B">Berlin</simpleChoice>
        </choiceInteraction></itemBody>
      <responseProcessing
        template="http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct"/>
    </assessmentItem>"""
    q = one(v2)
    assert q["body"]["prompt"] == "Hauptstadt von Deutschland?"
    assert q["body"]["correct"] == 1 and q["language"] == "de"


def test_other_documents_are_named_for_what_they_are() -> None:
    qti12 = "<questestinterop><item ident='x'/></questestinterop>"
    assert "QTI 1.2" in qti_read.parse(qti12).problems[0][1]
    test = f"<qti-assessment-test {NS} identifier='t' title='t'/>"
    assert "not an item" in qti_read.parse(test).problems[0][1]


def test_an_unsupported_interaction_is_named() -> None:
    body = (
        '<qti-hottext-interaction response-identifier="RESPONSE" max-choices="1">'
        '<p>Find the <qti-hottext identifier="A">error</qti-hottext>.</p>'
        "</qti-hottext-interaction>"
    )
    assert "hottext interaction" in refused(item(body, choice_decl("A"), MATCH))


def test_messages_never_name_internal_fields() -> None:
    body = (
        '<qti-choice-interaction response-identifier="RESPONSE" max-choices="1">'
        "<qti-prompt>Long choices</qti-prompt>"
        + choices("x" * 2100, "y")
        + "</qti-choice-interaction>"
    )
    message = refused(item(body, choice_decl("B"), MATCH))
    assert "2000" in message


def test_items_without_response_processing_score_against_their_answer_and_say_so() -> None:
    body = (
        '<qti-order-interaction response-identifier="RESPONSE">'
        "<qti-prompt>Order them.</qti-prompt>"
        + choices("first", "second", "third")
        + "</qti-order-interaction>"
    )
    decl = (
        '<qti-response-declaration identifier="RESPONSE" cardinality="ordered" '
        'base-type="identifier"><qti-correct-response><qti-value>C</qti-value>'
        "<qti-value>A</qti-value><qti-value>B</qti-value></qti-correct-response>"
        "</qti-response-declaration>"
    )
    parsed = qti_read.parse(item(body, decl))
    assert parsed.questions[0].body.items == ["third", "first", "second"]  # type: ignore[union-attr]
    assert "no response processing" in str(parsed.notes[0][1])


def test_formatted_questions_round_trip_through_qti() -> None:
    from invigil.content.formats import qti
    from tests.content.factories import sample

    html = (
        "<p>Given <math><mfrac><mi>a</mi><mi>b</mi></mfrac><mo>=</mo><msup><mi>x</mi><mn>2</mn>"
        "</msup></math>, and the <em>table</em>:</p><table><tbody><tr><td>1</td><td>2</td></tr>"
        "</tbody></table><ul><li>one</li><li>two</li></ul>"
    )
    questions = []
    for kind in ("single_choice", "multiple_choice", "short_text", "numeric", "essay"):
        question = sample(kind)
        body = question.body.model_dump() | {"prompt_html": html}
        questions.append(
            (f"Q-{kind}", question.model_validate(question.model_dump() | {"body": body}))
        )
    text, skipped = qti.dump(questions)
    assert skipped == [] and "<m:math" in text
    parsed = qti_read.parse(text)
    assert parsed.refused == [] and parsed.problems == []
    assert parsed.questions == [q for _, q in questions]
    assert parsed.questions[0].body.prompt.startswith("Given (a)/(b)=x^(2), and the table:")


def test_markdown_written_questions_round_trip_with_their_source() -> None:
    from invigil.content.formats import qti
    from tests.content.factories import sample

    question = sample("numeric")
    body = question.body.model_dump() | {
        "prompt_markdown": "What is $\\sqrt{16}$?\n\n| a | b |\n|---|---|\n| 1 | 2 |",
        "prompt_html": None,
    }
    made = question.model_validate(question.model_dump() | {"body": body})
    assert "<msqrt>" in (made.body.prompt_html or "")
    text, _ = qti.dump([("Q-1", made)])
    assert 'view="author"' in text and "What is $\\sqrt{16}$?" in text
    assert qti_read.parse(text).questions == [made]


def _rules(right_score: str, else_score: str, *, feedback: bool) -> str:
    extra = (
        '<qti-set-outcome-value identifier="FEEDBACK"><qti-base-value base-type="identifier">'
        "GOOD</qti-base-value></qti-set-outcome-value>"
        if feedback
        else ""
    )
    return (
        "<qti-response-processing><qti-response-condition><qti-response-if><qti-match>"
        '<qti-variable identifier="RESPONSE"/><qti-correct identifier="RESPONSE"/></qti-match>'
        f'<qti-set-outcome-value identifier="SCORE"><qti-base-value base-type="float">{right_score}'
        f"</qti-base-value></qti-set-outcome-value>{extra}</qti-response-if><qti-response-else>"
        f'<qti-set-outcome-value identifier="SCORE"><qti-base-value base-type="float">{else_score}'
        "</qti-base-value></qti-set-outcome-value></qti-response-else></qti-response-condition>"
        + (
            '<qti-response-condition><qti-response-if><qti-gt><qti-variable identifier="SCORE"/>'
            '<qti-base-value base-type="float">0</qti-base-value></qti-gt>'
            '<qti-set-outcome-value identifier="FEEDBACK"><qti-base-value '
            'base-type="identifier">GOOD</qti-base-value></qti-set-outcome-value>'
            "</qti-response-if></qti-response-condition>"
            if feedback
            else ""
        )
        + "</qti-response-processing>"
    )


def test_written_out_rules_with_feedback_beside_them_score_as_written() -> None:
    body = (
        '<qti-choice-interaction response-identifier="RESPONSE" max-choices="1">'
        "<qti-prompt>Pick B.</qti-prompt>" + choices("A", "B") + "</qti-choice-interaction>"
    )
    q = one(item(body, choice_decl("B"), _rules("2", "0", feedback=True)))
    assert q["points"] == 2 and q["body"]["correct"] == 1  # what a right answer scores
    # A part for a wrong answer is not all or nothing: refused, not rescored.
    assert "own" in refused(item(body, choice_decl("B"), _rules("2", "0.5", feedback=False)))


def test_the_explanation_is_wired_through_a_declared_outcome_after_the_rules() -> None:
    import xml.etree.ElementTree as ET

    from invigil.content.formats import qti
    from tests.content.factories import sample

    for kind in ("single_choice", "numeric", "essay", "matching", "short_text", "ordering"):
        plain = sample(kind)
        body = plain.body.model_copy(update={"explanation": "Because it is."})
        question = plain.model_copy(update={"body": body})
        el = ET.fromstring(ET.tostring(qti.item_xml("Q-1", question)))
        assert qti_read.parse(ET.tostring(el)).questions == [question], kind
        names = [c.tag.rsplit("}", 1)[1] for c in el]
        assert names.index("qti-response-processing") < names.index("qti-modal-feedback"), kind
        declared = {o.get("identifier") for o in el.iter(qti.q("qti-outcome-declaration"))}
        assert "FEEDBACK" in declared, kind
        sets = [s.get("identifier") for s in el.iter(qti.q("qti-set-outcome-value"))]
        assert "FEEDBACK" in sets, kind
        feedback = el.find(qti.q("qti-modal-feedback"))
        assert feedback is not None and feedback.get("outcome-identifier") == "FEEDBACK"


def test_blocks_the_formatted_text_has_no_element_for_keep_their_words_apart() -> None:
    body = (
        "<section><h1>Heat</h1><p>Water <em>boils</em>.</p></section><div><h1>Task</h1>"
        "Pick one.</div>"
        '<qti-choice-interaction response-identifier="RESPONSE" max-choices="1">'
        + choices("A", "B")
        + "</qti-choice-interaction>"
    )
    q = one(item(body, choice_decl("A"), MATCH))
    assert q["body"]["prompt"] == "Heat\n\nWater boils.\n\nTask\n\nPick one."
