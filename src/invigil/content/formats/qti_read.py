"""Reading QTI items (2.1, 2.2 and 3.0) faithfully, or refusing them.

An imported question must mean and score exactly what the item did. Every
item is read into Invigil's types only where the mapping is exact; anything
Invigil cannot reproduce (an interaction it has no type for, partial credit
its scoring rules cannot express, a second interaction, templates, images
and formulas) refuses that item with a sentence saying what and why. What is
left out without changing the question (feedback) is named in the report's
notes. docs/content-formats.md lists the rules.

QTI 2.x documents are read through the same code: their camelCase element
and attribute names (``choiceInteraction``, ``maxChoices``) are renamed to
QTI 3.0's (``qti-choice-interaction``, ``max-choices``) first.

Items written by Invigil carry ``inv:*`` attributes (namespace
``urn:invigil:qti``) with what QTI has no place for; items from other tools
land in category "General" with medium difficulty.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import ValidationError

from invigil.content import images, rich
from invigil.content.formats import MAX_QUESTIONS, Message, Parsed
from invigil.content.formats import qti_package as package
from invigil.content.formats.csv import items as split_items
from invigil.content.formats.qti import INV, MARKDOWN, QTI, WRAP, inv, q
from invigil.content.formats.qti_answers import READERS, Item, Refusal, points_of
from invigil.content.formats.qti_text import (
    CHOICES,
    FEEDBACK,
    feedback_text,
    for_candidates,
    local,
    upgrade,
    visible_html,
    visible_text,
)
from invigil.content.schemas import QuestionIn, describe
from invigil.i18n import N_
from invigil.security import safe_xml

V2 = {
    "http://www.imsglobal.org/xsd/imsqti_v2p0": "2.0",
    "http://www.imsglobal.org/xsd/imsqti_v2p1": "2.1",
    "http://www.imsglobal.org/xsd/imsqti_v2p2": "2.2",
}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
MEDIA = {
    "picture": N_("it shows a picture element (%(src)s); Invigil imports images given as img"),
    "object": N_("it embeds media (%(src)s); audio, video and embedded media in QTI items are "
                 "not imported yet"),
    "audio": N_("it plays audio (%(src)s); audio, video and embedded media in QTI items are "
                "not imported yet"),
    "video": N_("it plays a video (%(src)s); audio, video and embedded media in QTI items are "
                "not imported yet"),
}  # fmt: skip
# Interactions Invigil has a question type for; every other one is named in a refusal.
SUPPORTED = frozenset({"choice", "text-entry", "extended-text", "order", "inline-choice",
                       "match", "associate"})  # fmt: skip

# -- interactions ---------------------------------------------------------------


def _interactions(item: Item) -> list[ET.Element]:
    body = item.find(q("qti-item-body"))
    if body is None:
        raise Refusal(N_("it has no item body"))
    return [
        el
        for el in body.iter()
        if local(el.tag).endswith("-interaction")
        or local(el.tag) in ("qti-portable-custom-interaction", "qti-custom-interaction")
    ]


def _kind_of(inter: ET.Element) -> str:
    return local(inter.tag).removeprefix("qti-").removesuffix("-interaction")


IMAGE_IN_CHOICE = N_(
    "a choice shows an image (%(src)s); Invigil's choices are plain text, so the image would "
    "be lost"
)
IMAGE_MISSING = N_(
    "it shows an image (%(src)s) that is not in the file; import the content package (.zip) "
    "that holds it"
)
IMAGE_UNUSABLE = N_(
    "its image %(src)s is not a PNG, JPEG, GIF or WebP image of at most %(mib)s MiB, which "
    "Invigil needs"
)
TOO_MANY_IMAGES = N_("it shows %(n)s images; a question can have at most %(most)s")
FORMULA_IN_CHOICE = N_(
    "a choice shows a formula (MathML); Invigil's choices are plain text, so the formula "
    "would be flattened"
)


# Where an item's ``img src`` leads: its path and bytes, or None (not in
# the file: a single XML document carries no images).
Media = Callable[[str], tuple[str, bytes] | None]


def _check_media(item: Item, media: Media | None) -> list[tuple[str, bytes]]:
    """Refuses what a candidate would see that Invigil cannot show; names
    each image the stem shows by its bytes (content.rich) and answers them."""
    body = item.find(q("qti-item-body"))
    assert body is not None
    found: dict[str, tuple[str, bytes]] = {}

    def visit(el: ET.Element, in_choice: bool) -> None:
        tag = local(el.tag)
        if tag in FEEDBACK or (tag == "qti-rubric-block" and not for_candidates(el)):
            return
        if tag == "math":
            if in_choice:  # a choice is plain text: the formula would be flattened
                raise Refusal(FORMULA_IN_CHOICE)
            return  # carried in the formatted text
        if tag == "img" and not in_choice:
            _image(el, media, found)
            return
        if tag == "img":
            raise Refusal(IMAGE_IN_CHOICE, src=(el.get("src") or "")[:200])
        what = MEDIA.get(tag)
        if what is not None:
            src = el.get("src") or el.get("data") or ""
            raise Refusal(what, src=src[:200])
        for child in el:
            visit(child, in_choice or tag in CHOICES)

    visit(body, False)
    if len(found) > images.MAX_IMAGES:
        raise Refusal(TOO_MANY_IMAGES, n=len(found), most=images.MAX_IMAGES)
    return list(found.values())


def _image(el: ET.Element, media: Media | None, found: dict[str, tuple[str, bytes]]) -> None:
    src = (el.get("src") or "").strip()
    got = media(src) if media is not None and src else None
    if got is None:
        raise Refusal(IMAGE_MISSING, src=src[:200])
    path, data = got
    if not data or len(data) > images.MAX_SIZE or images.sniff(data) is None:
        raise Refusal(IMAGE_UNUSABLE, src=path[:200], mib=images.MAX_SIZE // images.MiB)
    name = hashlib.sha256(data).hexdigest()
    found.setdefault(name, (path.rsplit("/", 1)[-1], data))
    el.set("src", rich.IMAGE_REF.format(name))


def _notes(item: Item) -> None:
    if item.invigil:
        return
    if any(next(item.el.iter(q(t)), None) is not None for t in FEEDBACK):
        item.notes.append(N_("its feedback is not imported (the question and its scoring are)"))


def _explanation(item: Item) -> str:
    """Invigil's own exports carry the explanation as a modal feedback."""
    if not item.invigil:
        return ""
    for fb in item.el.iter(q("qti-modal-feedback")):
        if fb.get("identifier") == "EXPLANATION":
            return feedback_text(fb)
    return ""


def _language(item: Item) -> str:
    lang = (item.el.get(XML_LANG) or "").strip()
    primary = lang.split("-")[0].split("_")[0].lower()
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else "en"


def read_item(
    el: ET.Element, version: str, media: Media | None = None
) -> tuple[QuestionIn, list[str], list[tuple[str, bytes]]]:
    """One item as a question, notes on what was left out and the images its
    text shows (file name, bytes); or :class:`Refusal`. ``media`` finds an
    image's bytes in the package."""
    item = Item(el, version, el.get(inv("type")) is not None, [])
    if (el.get("adaptive") or "false").strip() == "true":
        raise Refusal(N_("it is adaptive (it changes as the candidate answers)"))
    if el.find(q("qti-template-declaration")) is not None:
        raise Refusal(N_("it varies per candidate (template variables)"))
    found = _interactions(item)
    if not found:
        raise Refusal(N_("it has no interaction: nothing for a candidate to answer"))
    for other in found:
        kind = _kind_of(other)
        if kind not in SUPPORTED:
            name = "custom" if kind in ("portable-custom", "custom") else kind.replace("-", " ")
            raise Refusal(N_("its %(name)s interaction has no Invigil question type"), name=name)
    if len(found) > 1:
        kinds = sorted({_kind_of(i).replace("-", " ") for i in found})
        raise Refusal(
            N_(
                "it has %(n)s interactions (%(kinds)s); Invigil imports items with one (split "
                "it into one item per part)"
            ),
            n=len(found),
            kinds=", ".join(kinds),
        )
    inter = found[0]
    kind = _kind_of(inter)
    shown = _check_media(item, media)
    body, best = READERS[kind](item, inter)
    points = points_of(item, best)
    if body["type"] == "essay" and "rubric" not in body:
        body["rubric"] = [{"name": "Overall", "levels": [
            {"label": "Not met", "points": 0}, {"label": "Met", "points": points}]}]  # fmt: skip
    stem = item.find(q("qti-item-body"))
    assert stem is not None
    html = rich.clean(visible_html(stem))
    if html and not rich.is_plain(html):
        body["prompt_html"] = html
        body["prompt"] = rich.text_of(html)
    else:
        body["prompt"] = visible_text(stem)
    if not body["prompt"]:
        raise Refusal(N_("it has no question text (only an interaction)"))
    body["explanation"] = _explanation(item)
    if item.invigil:
        _invigil_fields(item, body)
    _notes(item)
    raw = {
        "category": el.get(inv("category"), "General"),
        "tags": split_items(el.get(inv("tags"), ""), ";"),
        "difficulty": el.get(inv("difficulty"), "medium"),
        "points": points,
        "language": _language(item),
        "body": body,
    }
    try:
        return QuestionIn.model_validate(raw), item.notes, shown
    except ValidationError as exc:
        raise Refusal(
            "%(problems)s", problems="; ".join(_plain(m) for m in describe(exc))
        ) from None


def _invigil_fields(item: Item, body: dict[str, Any]) -> None:
    """What Invigil's own export adds in ``inv:*`` attributes."""
    el = item.el
    declared = el.get(inv("type"))
    if declared == "true_false" and body.get("type") == "single_choice":
        body["correct"] = body["choices"][body["correct"]] == "True"
        body["type"] = "true_false"
        del body["choices"]
    if declared == "short_text":
        body["case_sensitive"] = el.get(inv("case-sensitive")) == "true"
        if el.get(inv("pattern")):
            body["pattern"] = el.get(inv("pattern"))
    if declared == "multiple_choice" and el.get(inv("scoring")):
        body["scoring"] = el.get(inv("scoring"))
    for block in el.iter(q("qti-rubric-block")):
        source = block.find(f"{q('qti-content-body')}/{q('pre')}")
        if block.get("use") == MARKDOWN and source is not None and source.text:
            body["prompt_markdown"] = source.text


_FIELD = re.compile(r"^[a-z_.\[\]0-9]+: ")


def _plain(message: str) -> str:
    """A validation message without the field path in front of it."""
    return _FIELD.sub("", message)


# -- documents ------------------------------------------------------------------


def _root_items(root: ET.Element) -> Iterator[tuple[ET.Element, str]] | Message:
    ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    name = local(root.tag)
    if root.tag == f"{{{WRAP}}}qti-items":
        return ((child, "3.0") for child in root)
    if ns == QTI and name == "qti-assessment-item":
        return iter([(root, "3.0")])
    if ns in V2 and name == "assessmentItem":
        upgrade(root, ns)
        return iter([(root, V2[ns])])
    if name == "questestinterop":
        return Message.of(
            N_("this is QTI 1.2, which Invigil does not import; export QTI 2.1, 2.2 or 3.0")
        )
    if ns == QTI or ns in V2:
        return Message.of(
            N_("this is a QTI %(name)s, not an item; import the items (or a content package)"),
            name=name[:60],
        )
    return Message.of(
        N_(
            "this is not a QTI item: expected qti-assessment-item (QTI 3.0) or assessmentItem "
            "(QTI 2.1, 2.2)"
        )
    )


def _parse_document(
    data: bytes | str, where: str, out: Parsed, max_questions: int, media: Media | None = None
) -> None:
    try:
        root = safe_xml.parse(data)
    except safe_xml.Refused as exc:
        out.problems.append((where, str(exc)))
        return
    found = _root_items(root)
    if isinstance(found, Message):
        out.problems.append((where, found))
        return
    for n, (el, version) in enumerate(found, start=1):
        name = el.get("identifier") or f"#{n}"
        here = f"item {name}" if where == "file" else f"{where} (item {name})"
        if len(out.questions) + len(out.problems) >= max_questions:
            out.problems.append(
                ("file", Message.of(N_("at most %(n)s questions per file"), n=max_questions))
            )
            return
        if el.tag != q("qti-assessment-item"):
            out.refused.append((here, Message.of(N_("it is not a qti-assessment-item"))))
            continue
        try:
            question, notes, shown = read_item(el, version, media)
        except Refusal as exc:
            out.refused.append((here, exc.message))
            continue
        if shown:
            out.images[len(out.questions)] = shown
        out.questions.append(question)
        out.notes += [(here, Message.of(n)) for n in notes]


def _media_of(entry: package.Entry, shared: dict[str, bytes]) -> Media:
    """Finds an image in the files the item's resource names, else in the
    package's media resources (many tools leave the dependency out)."""

    def find(src: str) -> tuple[str, bytes] | None:
        key = package.resolve(entry, src)
        if key is None:
            return None
        data = entry.media.get(key, shared.get(key))
        return (key, data) if data is not None else None

    return find


def parse(data: bytes | str, max_questions: int = MAX_QUESTIONS) -> Parsed:
    """The questions of a QTI item, an Invigil QTI export or a content package
    (ZIP); ``data`` as it was sent (the XML's byte-order mark or declaration
    names its encoding)."""
    out = Parsed()
    if isinstance(data, bytes) and package.is_package(data):
        found = package.read(data)
        out.problems += found.problems
        out.notes += [("package", Message.of(n)) for n in found.notes]
        for entry in found.items:
            _parse_document(
                entry.data, entry.href, out, max_questions, _media_of(entry, found.shared)
            )
        return out
    _parse_document(data, "file", out, max_questions)
    return out


__all__ = ["INV", "parse", "read_item"]
