"""What a candidate reads in a QTI item, as Invigil's plain text.

QTI 2.x names (``choiceInteraction``, ``maxChoices``) are first renamed to
QTI 3.0's (``qti-choice-interaction``, ``max-choices``), so one reader serves
both. The text is everything a candidate sees in the item body in document
order (passages, stems, candidate rubric blocks, the prompt), never choices,
feedback or what other readers (scorers, authors) see; blocks are one blank
line apart, and an answer box inside a sentence is written ``____``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html import escape
from typing import Any

from invigil.content import rich
from invigil.content.formats.qti import MATHML, q

GAP = "____"

# XHTML elements QTI items use: they keep their names in QTI 3.0; every
# other QTI 2.x element gains the ``qti-`` prefix and kebab case.
HTML = frozenset({
    "a", "abbr", "acronym", "address", "article", "aside", "audio", "b", "bdi", "bdo", "big",
    "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd", "del", "details",
    "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4",
    "h5", "h6", "header", "hr", "i", "img", "ins", "kbd", "label", "li", "mark", "nav",
    "object", "ol", "p", "param", "picture", "pre", "q", "rb", "rp", "rt", "rtc", "ruby", "s",
    "samp", "section", "small", "source", "span", "strong", "sub", "summary", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "track", "tt", "u", "ul", "var", "video",
})  # fmt: skip
BLOCK = frozenset({
    "address", "article", "aside", "blockquote", "caption", "dd", "details", "div", "dl", "dt",
    "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
    "nav", "ol", "p", "pre", "section", "summary", "table", "tr", "ul", "qti-prompt",
    "qti-rubric-block", "qti-content-body", "qti-item-body",
})  # fmt: skip
CELL = frozenset({"td", "th"})
FEEDBACK = frozenset({"qti-feedback-inline", "qti-feedback-block", "qti-modal-feedback"})
NEVER_SHOWN = frozenset({"style", "script", "qti-stylesheet", "qti-template-block",
                         "qti-template-inline", "qti-printed-variable"})  # fmt: skip
CHOICES = frozenset({"qti-simple-choice", "qti-simple-associable-choice",
                     "qti-simple-match-set", "qti-inline-choice", "qti-gap-text", "qti-gap-img",
                     "qti-hottext"})  # fmt: skip
INLINE = frozenset({"qti-text-entry-interaction", "qti-inline-choice-interaction"})
CANDIDATE_VIEWS = {"candidate", ""}
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def local(tag: str | Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def kebab(name: str) -> str:
    return _CAMEL.sub(r"-\1", name).lower()


def upgrade(el: ET.Element, ns: str) -> None:
    """A QTI 2.x tree renamed in place to QTI 3.0's names and namespace."""
    for node in el.iter():
        if not isinstance(node.tag, str) or not node.tag.startswith(f"{{{ns}}}"):
            continue
        name = local(node.tag)
        node.tag = q(name if name in HTML else f"qti-{kebab(name)}")
        for key in [k for k in node.attrib if not k.startswith("{") and _CAMEL.search(k)]:
            if not key.startswith("data-"):
                node.attrib[kebab(key)] = node.attrib.pop(key)


# -- what the candidate reads ---------------------------------------------------


def for_candidates(el: ET.Element) -> bool:
    views = set((el.get("view") or "").split())
    return not views or bool(views & CANDIDATE_VIEWS)


def hidden(el: ET.Element) -> bool:
    tag = local(el.tag)
    if tag in FEEDBACK or tag in NEVER_SHOWN or tag in CHOICES:
        return True
    return tag == "qti-rubric-block" and not for_candidates(el)


def _has_text(el: ET.Element) -> bool:
    """Whether ``el`` shows words of its own (or in its inline children)
    besides its interactions: a box in a sentence is a gap in the text."""
    if (el.text or "").strip():
        return True
    for child in el:
        if (child.tail or "").strip():
            return True
        tag = local(child.tag)
        if tag.endswith("-interaction") or tag in BLOCK or hidden(child):
            continue
        if _has_text(child):
            return True
    return False


# QTI containers whose content is shown without an element of their own.
_CONTAINERS = {"qti-item-body", "qti-content-body"}


def _attrs(el: ET.Element) -> str:
    return "".join(f' {k}="{escape(v)}"' for k, v in el.attrib.items() if not k.startswith("{"))


def _math_html(el: ET.Element, out: list[str]) -> None:
    tag = local(el.tag)
    out.append(f"<{tag}{_attrs(el)}>{escape(el.text or '', quote=False)}")
    for child in el:
        _math_html(child, out)
        out.append(escape(child.tail or "", quote=False))
    out.append(f"</{tag}>")


def _html(el: ET.Element, out: list[str], inline_gap: bool) -> None:
    """``el`` as HTML for :func:`invigil.content.rich.clean` (which keeps
    only the allowed subset): what a candidate sees, with its markup."""
    tag = local(el.tag)
    if el.tag.startswith(f"{{{MATHML}}}"):
        _math_html(el, out)
        return
    if tag == "br":
        out.append("<br>")
        return
    if tag in INLINE:
        if inline_gap:
            out.append(GAP)
        return
    if tag.endswith("-interaction"):
        for child in el:
            if local(child.tag) == "qti-prompt":
                _html(child, out, False)
        return
    if tag in BLOCK or tag in CELL:
        inline_gap = _has_text(el)
    # A block the formatted text has no element for (a prompt, a rubric, a
    # section, h1) stays a block: its words never run into the next ones.
    name = (
        "div"
        if tag in ("qti-prompt", "qti-rubric-block") or (tag in BLOCK and tag not in rich.TAGS)
        else tag
    )
    shown = tag in HTML or name == "div"
    if shown and tag not in _CONTAINERS:
        out.append(f"<{name}{_attrs(el) if tag in HTML else ''}>")
    out.append(escape(el.text or "", quote=False))
    for child in el:
        if not hidden(child):
            _html(child, out, inline_gap)
        out.append(escape(child.tail or "", quote=False))
    if shown and tag not in _CONTAINERS and tag not in ("br", "hr", "col", "img"):
        out.append(f"</{name}>")


def visible_html(el: ET.Element) -> str:
    """What a candidate sees of the item body as (uncleaned) HTML."""
    out: list[str] = []
    _html(el, out, False)
    return "".join(out)


def _inner_html(el: ET.Element) -> str:
    out: list[str] = [escape(el.text or "", quote=False)]
    for child in el:
        if not hidden(child):
            _html(child, out, False)
        out.append(escape(child.tail or "", quote=False))
    return "".join(out)


def _text(html: str) -> str:
    """Plain text of HTML as the formatted text reads it (content.rich)."""
    cleaned = rich.clean(html)
    return rich.text_of(cleaned) if cleaned else ""


def visible_text(el: ET.Element) -> str:
    """What a candidate sees of the item body as plain text: blocks one
    blank line apart, an answer box in a sentence written ``____``."""
    return _text(visible_html(el))


def choice_text(el: ET.Element) -> str:
    """A choice's words on one line, without its inline feedback."""
    return " ".join(_text(_inner_html(el)).split())


def feedback_text(fb: ET.Element) -> str:
    return _text(_inner_html(fb))
