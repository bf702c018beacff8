"""QTI 3.0 items for every question type.

- single_choice, multiple_choice, true_false -> ``qti-choice-interaction``
- short_text, numeric -> ``qti-text-entry-interaction`` (in a paragraph)
- essay -> ``qti-extended-text-interaction`` (rubric in a scorer rubric block)
- ordering -> ``qti-order-interaction``; matching -> ``qti-match-interaction``

Export is one XML document: a ``<qti-items>`` wrapper (namespace
``urn:invigil:qti-items``) holding one ``qti-assessment-item`` per question
in the QTI 3.0 namespace; each child is a standalone item (``item_files``
writes them one per file, for a content package). What QTI has no place for
(category, tags, difficulty, the partial-credit rule, case sensitivity, the
pattern, true/false) travels in ``inv:*`` attributes (namespace
``urn:invigil:qti``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from invigil.content import bodies as b
from invigil.content import rich
from invigil.content.formats import number
from invigil.content.formats.csv import escape
from invigil.content.schemas import QuestionIn

QTI = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
INV = "urn:invigil:qti"
MATHML = "http://www.w3.org/1998/Math/MathML"
MARKDOWN = "invigil-markdown"  # the use of the author rubric block holding the Markdown source
WRAP = "urn:invigil:qti-items"
COVERED = b.TYPES  # every type
TEMPLATE = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/"


def _prefixes() -> None:
    """QTI as the default namespace and ``inv`` for Invigil's extensions.
    ElementTree keeps prefixes in one map for the whole process, which other
    libraries write to as well (a library's registration can take ours
    away), so they are set again before each serialisation."""
    ET.register_namespace("", QTI)
    ET.register_namespace("inv", INV)
    ET.register_namespace("m", MATHML)


def q(tag: str) -> str:
    return f"{{{QTI}}}{tag}"


def inv(name: str) -> str:
    return f"{{{INV}}}{name}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, q(tag), {k.replace("_", "-"): v for k, v in attrs.items()})
    if text is not None:
        el.text = text
    return el


def _declare(item: ET.Element, cardinality: str, base: str, values: list[str]) -> ET.Element:
    decl = _sub(item, "qti-response-declaration", identifier="RESPONSE",
                cardinality=cardinality, base_type=base)  # fmt: skip
    if values:
        correct = _sub(decl, "qti-correct-response")
        for v in values:
            _sub(correct, "qti-value", v)
    return decl


def _outcomes(item: ET.Element, points: float) -> None:
    for name, value in (("SCORE", "0"), ("MAXSCORE", number(points))):
        out = _sub(item, "qti-outcome-declaration", identifier=name, cardinality="single",
                   base_type="float")  # fmt: skip
        _sub(_sub(out, "qti-default-value"), "qti-value", value)


def item_xml(
    identifier: str, question: QuestionIn, level: int = 0, media: dict[str, str] | None = None
) -> ET.Element:
    """The question as a QTI item, indented for reading at ``level``; its
    formatted text is left exactly as it is (white space inside a
    paragraph shows, so indentation never reaches it), its images at the
    paths ``media`` gives (SHA-256 -> path from the item's file)."""
    body = question.body
    item = ET.Element(q("qti-assessment-item"), {
        "identifier": identifier, "title": body.prompt[:80], "adaptive": "false",
        "time-dependent": "false", inv("type"): body.type, inv("category"): question.category,
        inv("tags"): ";".join(escape(t) for t in question.tags),
        inv("difficulty"): question.difficulty,
    })  # fmt: skip
    template = "match_correct"
    if isinstance(body, b.SingleChoice | b.MultipleChoice):
        ids = [f"C{i + 1}" for i in range(len(body.choices))]
        right = [body.correct] if isinstance(body, b.SingleChoice) else body.correct
        multiple = isinstance(body, b.MultipleChoice)
        decl = _declare(item, "multiple" if multiple else "single", "identifier",
                        [ids[i] for i in right])  # fmt: skip
        if isinstance(body, b.MultipleChoice) and body.scoring == "proportional":
            item.set(inv("scoring"), "proportional")
            template = "map_response"
            share = question.points / len(right)
            mapping = _sub(decl, "qti-mapping", default_value="0", lower_bound="0",
                           upper_bound=number(question.points))  # fmt: skip
            for i, ident in enumerate(ids):
                value = share if i in right else -share
                _sub(mapping, "qti-map-entry", map_key=ident, mapped_value=repr(value))
    elif isinstance(body, b.Numeric):
        _declare(item, "single", "float", [number(body.value)])
        item.set(inv("tolerance"), number(body.tolerance))
    elif isinstance(body, b.ShortText):
        decl = _declare(item, "single", "string", [body.accepted[0]])
        item.set(inv("case-sensitive"), "true" if body.case_sensitive else "false")
        if body.pattern:
            item.set(inv("pattern"), body.pattern)
        template = "map_response"
        mapping = _sub(decl, "qti-mapping", default_value="0")
        for answer in body.accepted:
            _sub(mapping, "qti-map-entry", map_key=answer, mapped_value=number(question.points),
                 case_sensitive="true" if body.case_sensitive else "false")  # fmt: skip
    elif isinstance(body, b.Essay):
        _declare(item, "single", "string", [])
        template = ""
    elif isinstance(body, b.TrueFalse):
        _declare(item, "single", "identifier", ["TRUE" if body.correct else "FALSE"])
    elif isinstance(body, b.Ordering):  # stored in the right order
        _declare(item, "ordered", "identifier", [f"O{i + 1}" for i in range(len(body.items))])
    elif isinstance(body, b.Matching):  # pair i is left i with right i
        n = len(body.pairs)
        decl = _declare(item, "multiple", "directedPair",
                        [f"L{i + 1} R{i + 1}" for i in range(n)])  # fmt: skip
        if body.scoring == "per_pair":
            template = "map_response"
            mapping = _sub(decl, "qti-mapping", default_value="0", lower_bound="0",
                           upper_bound=number(question.points))  # fmt: skip
            for i in range(n):
                _sub(mapping, "qti-map-entry", map_key=f"L{i + 1} R{i + 1}",
                     mapped_value=repr(question.points / n))  # fmt: skip
    _outcomes(item, question.points)
    if body.explanation:
        _sub(item, "qti-outcome-declaration", identifier="FEEDBACK", cardinality="single",
             base_type="identifier")  # fmt: skip
    place = _content(item, body)
    if isinstance(body, b.Numeric):
        _numeric_processing(item, body.tolerance)
    elif template and not body.explanation:
        _sub(item, "qti-response-processing", template=TEMPLATE + template)
    elif template:
        _written_template(_sub(item, "qti-response-processing"), template)
    if body.explanation:
        proc = item.find(q("qti-response-processing"))
        if proc is None:  # an essay: no score to compute, the feedback to show
            proc = _sub(item, "qti-response-processing")
        shown = _sub(proc, "qti-set-outcome-value", identifier="FEEDBACK")
        _sub(shown, "qti-base-value", "EXPLANATION", base_type="identifier")
        _explanation(item, body.explanation)
    ET.indent(item, level=level)
    if body.prompt_html:
        html = rich.with_image_addresses(body.prompt_html, media) if media else body.prompt_html
        _rich(*place, html)
    return item


def _content(item: ET.Element, body: b.Body) -> tuple[ET.Element, int]:
    """Writes the item body; answers where the formatted text goes (the
    body and the position among its children)."""
    content = _sub(item, "qti-item-body")
    if isinstance(body, b.Essay):
        rubric = _sub(content, "qti-rubric-block", view="scorer", use="scoring")
        listing = ET.SubElement(_sub(rubric, "qti-content-body"), q("ul"))
        for c in body.rubric:
            crit = ET.SubElement(listing, q("li"), {"data-criterion": c.name})
            for lv in c.levels:
                ET.SubElement(crit, q("span"), {"data-level": lv.label,
                                                "data-points": number(lv.points)})  # fmt: skip
    if body.prompt_markdown:  # the author's source, for Invigil to edit again
        source = _sub(content, "qti-rubric-block", view="author", use=MARKDOWN)
        _sub(_sub(source, "qti-content-body"), "pre", body.prompt_markdown)
    place = (content, len(content))
    if isinstance(body, b.SingleChoice | b.MultipleChoice):
        many = isinstance(body, b.MultipleChoice)
        inter = _sub(content, "qti-choice-interaction", response_identifier="RESPONSE",
                     max_choices="0" if many else "1", shuffle="true")  # fmt: skip
        if not body.prompt_html:
            _sub(inter, "qti-prompt", body.prompt)
        for i, choice in enumerate(body.choices):
            _sub(inter, "qti-simple-choice", choice, identifier=f"C{i + 1}")
    elif isinstance(body, b.TrueFalse):
        inter = _sub(content, "qti-choice-interaction", response_identifier="RESPONSE",
                     max_choices="1")  # fmt: skip
        if not body.prompt_html:
            _sub(inter, "qti-prompt", body.prompt)
        _sub(inter, "qti-simple-choice", "True", identifier="TRUE")
        _sub(inter, "qti-simple-choice", "False", identifier="FALSE")
    elif isinstance(body, b.Ordering):
        inter = _sub(content, "qti-order-interaction", response_identifier="RESPONSE",
                     shuffle="true")  # fmt: skip
        if not body.prompt_html:
            _sub(inter, "qti-prompt", body.prompt)
        for i, text in enumerate(body.items):
            _sub(inter, "qti-simple-choice", text, identifier=f"O{i + 1}")
    elif isinstance(body, b.Matching):
        n = str(len(body.pairs))
        inter = _sub(content, "qti-match-interaction", response_identifier="RESPONSE",
                     max_associations=n, shuffle="true")  # fmt: skip
        if not body.prompt_html:
            _sub(inter, "qti-prompt", body.prompt)
        for side, key in (("L", "left"), ("R", "right")):
            group = _sub(inter, "qti-simple-match-set")
            for i, pair in enumerate(body.pairs):
                _sub(group, "qti-simple-associable-choice", getattr(pair, key),
                     identifier=f"{side}{i + 1}", match_max="1")  # fmt: skip
    else:
        if not body.prompt_html:
            _sub(content, "p", body.prompt)
        if isinstance(body, b.Essay):
            attrs = {"response_identifier": "RESPONSE"}
            if body.max_words:
                attrs["data-max-words"] = str(body.max_words)
            _sub(content, "qti-extended-text-interaction", **attrs)
        else:  # inline: a text entry stands in a paragraph of its own
            _sub(_sub(content, "p"), "qti-text-entry-interaction", response_identifier="RESPONSE")
    return place


def _explanation(item: ET.Element, explanation: str) -> None:
    """The explanation as modal feedback a conforming player shows: the
    response processing sets the declared FEEDBACK outcome to it."""
    feedback = _sub(item, "qti-modal-feedback", outcome_identifier="FEEDBACK",
                    identifier="EXPLANATION", show_hide="show")  # fmt: skip
    _sub(feedback, "qti-content-body", explanation)


def _written_template(proc: ET.Element, template: str) -> None:
    """A response processing template written out as rules (so others can
    follow it): match_correct gives the points (MAXSCORE) for the right
    answer, map_response the mapped value; both 0 without an answer."""
    cond = _sub(proc, "qti-response-condition")
    right = _sub(cond, "qti-response-if")
    if template == "match_correct":
        test = _sub(right, "qti-match")
        _sub(test, "qti-variable", identifier="RESPONSE")
        _sub(test, "qti-correct", identifier="RESPONSE")
        _sub(_sub(right, "qti-set-outcome-value", identifier="SCORE"), "qti-variable",
             identifier="MAXSCORE")  # fmt: skip
        _sub(_sub(_sub(cond, "qti-response-else"), "qti-set-outcome-value", identifier="SCORE"),
             "qti-base-value", "0", base_type="float")  # fmt: skip
        return
    _sub(_sub(right, "qti-is-null"), "qti-variable", identifier="RESPONSE")
    _sub(_sub(right, "qti-set-outcome-value", identifier="SCORE"), "qti-base-value", "0",
         base_type="float")  # fmt: skip
    _sub(_sub(_sub(cond, "qti-response-else"), "qti-set-outcome-value", identifier="SCORE"),
         "qti-map-response", identifier="RESPONSE")  # fmt: skip


def _rich(parent: ET.Element, at: int, html: str) -> None:
    """Formatted text (clean HTML: blocks at the top) as QTI's XHTML, its
    formulas as MathML, inserted among ``parent``'s children at ``at``."""

    def copy(src: ET.Element, math: bool) -> ET.Element:
        math = math or src.tag == "math"
        name = f"{{{MATHML}}}{src.tag}" if math else q(src.tag)
        el = ET.Element(name, dict(src.attrib))
        el.text, el.tail = src.text, src.tail
        el.extend(copy(child, math) for child in src)
        return el

    blocks = [copy(child, False) for child in rich.tree(html)]  # clean: blocks only
    before = parent[at - 1] if at else None
    if blocks:
        blocks[-1].tail = before.tail if before is not None else parent.text
    parent[at:at] = blocks


def _numeric_processing(item: ET.Element, tolerance: float) -> None:
    proc = _sub(item, "qti-response-processing")
    cond = _sub(_sub(proc, "qti-response-condition"), "qti-response-if")
    eq = _sub(cond, "qti-equal", tolerance_mode="absolute",
              tolerance=f"{number(tolerance)} {number(tolerance)}")  # fmt: skip
    _sub(eq, "qti-variable", identifier="RESPONSE")
    _sub(eq, "qti-correct", identifier="RESPONSE")
    _sub(_sub(cond, "qti-set-outcome-value", identifier="SCORE"), "qti-variable",
         identifier="MAXSCORE")  # fmt: skip


def item_files(
    questions: list[tuple[str, QuestionIn]], media: dict[str, str] | None = None
) -> tuple[list[tuple[str, bytes]], list[str]]:
    """Each question QTI carries as a standalone item document (UTF-8, with
    its XML declaration), for a content package, its images at the paths
    ``media`` gives (SHA-256 -> path from the item's file); and the
    identifiers of the questions it cannot carry."""
    found: list[tuple[str, bytes]] = []
    skipped = []
    for ident, question in questions:
        if question.body.type not in COVERED:
            skipped.append(ident)
            continue
        item = item_xml(ident, question, media=media)
        _prefixes()
        found.append((ident, ET.tostring(item, encoding="utf-8", xml_declaration=True)))
    return found, skipped


def dump(questions: list[tuple[str, QuestionIn]]) -> tuple[str, list[str]]:
    """The document, and the identifiers of questions QTI cannot carry."""
    root = ET.Element(f"{{{WRAP}}}qti-items")
    skipped = []
    for ident, question in questions:
        if question.body.type in COVERED:
            item = item_xml(ident, question, level=1)
            item.tail = "\n  "
            root.append(item)
        else:
            skipped.append(ident)
    root.text = "\n  " if len(root) else None
    if len(root):
        root[-1].tail = "\n"
    _prefixes()
    return ET.tostring(root, encoding="unicode", xml_declaration=True), skipped
