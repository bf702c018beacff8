"""Question text as safe rich content: a sanitised subset of HTML with MathML.

A question may carry ``prompt_html`` beside its plain ``prompt``: paragraphs,
emphasis, lists, tables, code, line breaks and formulas (MathML Core, which
Chromium and Firefox render natively). It is cleaned on the way in by
ammonia (the ``nh3`` binding), which parses it as a browser would and keeps
only the elements and attributes listed here: no script, no event handler, no
style, no link or image pointing anywhere (a formula never loads anything).
Pages and the player show the stored HTML as it is; the plain ``prompt``
(the same words) serves search, CSV, titles, AI and readers without HTML.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import nh3
from latex2mathml.converter import convert as latex_to_mathml
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

from invigil.security import safe_xml

MAX_HTML = 50_000
MAX_MARKDOWN = 20_000


class FormulaError(ValueError):
    """A ``$...$`` formula of Markdown that cannot be read as LaTeX."""


def _formula(latex: str, options: dict[str, object]) -> str:
    try:
        return latex_to_mathml(latex, display="block" if options.get("display_mode") else "inline")
    except Exception as exc:  # latex2mathml raises many kinds on bad input
        why = f" ({exc})" if str(exc) else ""
        raise FormulaError(f"the formula ${latex[:60]}$ cannot be read{why}") from None


# CommonMark with tables and $...$ / $$...$$ formulas (LaTeX, written out as
# MathML); raw HTML in the Markdown is shown as text, never as markup.
_MARKDOWN = (
    MarkdownIt("commonmark", {"html": False})
    .enable("table")
    .enable("strikethrough")
    .use(dollarmath_plugin, renderer=_formula, allow_space=True, allow_digits=False)
)


def from_markdown(text: str) -> str:
    """Markdown with formulas as clean formatted text (or :class:`FormulaError`)."""
    return clean(_MARKDOWN.render(text))


TEXT_TAGS = {
    "img", "p", "br", "div", "span", "em", "strong", "b", "i", "u", "s", "sub", "sup", "small",
    "mark", "code", "pre", "kbd", "samp", "var", "q", "blockquote", "cite", "abbr", "dfn",
    "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd", "hr",
    "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td", "colgroup", "col",
    "figure", "figcaption", "ruby", "rt", "rp", "bdi", "bdo", "ins", "del",
}  # fmt: skip
# MathML Core (https://www.w3.org/TR/mathml-core/), presentation elements only.
MATH_TAGS = {
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msqrt", "mroot", "mfrac",
    "msub", "msup", "msubsup", "munder", "mover", "munderover", "mmultiscripts",
    "mprescripts", "none", "mtable", "mtr", "mtd", "mstyle", "mpadded", "mphantom",
    "semantics", "annotation", "merror",
}  # fmt: skip
ATTRIBUTES = {
    "*": {"dir", "lang", "title"},
    "ol": {"start", "reversed", "type"},
    "td": {"colspan", "rowspan", "headers"},
    "th": {"colspan", "rowspan", "headers", "scope", "abbr"},
    "col": {"span"},
    "colgroup": {"span"},
    "abbr": {"title"},
    "bdo": {"dir"},
    "math": {"display"},
    "mo": {
        "fence",
        "separator",
        "stretchy",
        "symmetric",
        "largeop",
        "movablelimits",
        "form",
        "lspace",
        "rspace",
        "minsize",
        "maxsize",
    },
    "mfrac": {"linethickness"},
    "mspace": {"width", "height", "depth"},
    "mpadded": {"width", "height", "depth", "lspace", "voffset"},
    "mstyle": {"displaystyle", "scriptlevel", "mathvariant"},
    "mi": {"mathvariant"},
    "mtd": {"columnspan", "rowspan"},
    "munder": {"accentunder"},
    "mover": {"accent"},
    "munderover": {"accent", "accentunder"},
    "annotation": {"encoding"},
    "img": {"src", "alt", "width", "height"},
}
# An image is one of the question's own images, named by its bytes' SHA-256
# (content/images.py); pages turn the name into their own address.
IMAGE_SRC = re.compile(r"question-image:([0-9a-f]{64})")
IMAGE_REF = "question-image:{}"


def _only_own_images(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src":
        return value if IMAGE_SRC.fullmatch(value) else None
    if tag == "img" and attribute in ("width", "height"):
        return value if value.isdigit() and len(value) <= 5 else None
    return value


TAGS = TEXT_TAGS | MATH_TAGS
BLOCKS = {
    "p", "div", "pre", "blockquote", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl",
    "dt", "dd", "hr", "table", "caption", "tr", "figure", "figcaption",
}  # fmt: skip


def clean(html: str) -> str:
    """``html`` with everything outside the allowed subset removed (the
    text of removed elements is kept, except of script and style), in one
    canonical form: the white space that never shows (between blocks, table
    rows and cells, list items, inside formulas) is left out, so the same
    formatted text is always the same string."""
    out = _once(html)
    for _ in range(3):  # until a browser would read it as written (a table in a <p> moves)
        again = _once(out)
        if again == out:
            break
        out = again
    return out


def _once(html: str) -> str:
    safe = nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"question-image"},
        attribute_filter=_only_own_images,
        link_rel=None,
        strip_comments=True,
    ).strip()
    if not safe:
        return ""
    root = tree(safe)
    _unwrap_spans(root)
    _paragraphs(root)
    _tidy(root, in_math=False)
    for parent in list(root.iter()):  # an image that is none of the question's shows nothing
        for img in [k for k in parent if k.tag == "img" and not k.get("src")]:
            _drop_image(parent, img)
    for parent in list(root.iter()):  # paragraphs with nothing in them show nothing
        for kid in list(parent):
            if kid.tag in ("p", "div") and not len(kid) and not (kid.text or "").strip():
                _drop(parent, kid)
    inner = ET.tostring(root, encoding="unicode", method="html")
    return inner.removeprefix("<root>").removesuffix("</root>").strip()


def _put_words(parent: ET.Element, at: int, words: str) -> None:
    """``words`` where the child at ``at`` of ``parent`` stands: after the
    child before it, or at the start of ``parent``."""
    if not words:
        return
    if at:
        before = parent[at - 1]
        before.tail = (before.tail or "") + words
    else:
        parent.text = (parent.text or "") + words


def _unwrap_spans(el: ET.Element) -> None:
    """A span without attributes says nothing: its content takes its place."""
    for kid in list(el):
        _unwrap_spans(kid)
    at = 0
    while at < len(el):
        kid = el[at]
        if kid.tag != "span" or kid.attrib:
            at += 1
            continue
        inner, tail = list(kid), kid.tail or ""
        _put_words(el, at, kid.text or "")
        el.remove(kid)
        el[at:at] = inner
        at += len(inner)
        _put_words(el, at, tail)


def _drop(parent: ET.Element, kid: ET.Element) -> None:
    """``kid`` removed, the words after it kept."""
    at = list(parent).index(kid)
    parent.remove(kid)
    if (kid.tail or "").strip():
        _put_words(parent, at, kid.tail or "")


def _paragraphs(root: ET.Element) -> None:
    """Words and inline elements at the top level, gathered into paragraphs:
    formatted text is a sequence of blocks."""
    if not (root.text or "").strip() and all(
        el.tag in BLOCKS and not (el.tail or "").strip() for el in root
    ):
        return
    kids, text = list(root), root.text
    root.clear()
    run: ET.Element | None = None

    def inline() -> ET.Element:
        nonlocal run
        if run is None:
            run = ET.SubElement(root, "p")
        return run

    if (text or "").strip():
        inline().text = text
    for kid in kids:
        tail, kid.tail = kid.tail, None
        if kid.tag in BLOCKS:
            run = None
            root.append(kid)
            if (tail or "").strip():  # words after a block open a paragraph
                inline().text = tail
        else:
            inline().append(kid)
            kid.tail = tail


# Elements whose neighbouring white space never shows.
_SPACELESS = BLOCKS | {"root", "thead", "tbody", "tfoot", "td", "th", "colgroup", "col", "br"}


def _blank(text: str | None) -> bool:
    return text is not None and not text.strip()


def _tidy(el: ET.Element, in_math: bool) -> None:
    in_math = in_math or el.tag == "math"
    kids = list(el)
    if in_math:
        if _blank(el.text) or (el.text and el.tag in ("mi", "mn", "mo", "mtext")):
            el.text = (el.text or "").strip() or None
        for kid in kids:
            if _blank(kid.tail):
                kid.tail = None
    else:
        if (
            _blank(el.text)
            and kids
            and (kids[0].tag in _SPACELESS or el.tag in _SPACELESS - {"td", "th"})
        ):
            el.text = None
        for i, kid in enumerate(kids):
            after = kids[i + 1] if i + 1 < len(kids) else None
            if _blank(kid.tail) and (
                kid.tag in _SPACELESS
                or (after is not None and after.tag in _SPACELESS)
                or (after is None and el.tag in _SPACELESS - {"td", "th"})
            ):
                kid.tail = None
    for kid in kids:
        _tidy(kid, in_math)


_VOID = re.compile(r"<(br|hr|col|img)((?:\s[^<>]*)?)>")
SCRIPTS = {"msup": "^", "msub": "_"}


def tree(html: str) -> ET.Element:
    """Clean HTML (as :func:`clean` writes it) read as XML: its void elements
    closed, ``&nbsp;`` as the character."""
    xml = _VOID.sub(r"<\1\2/>", html).replace("&nbsp;", "\u00a0")
    return safe_xml.parse(f"<root>{xml}</root>")


def _math(el: ET.Element) -> str:
    """A formula written out in one line: √(2) < 2, (a)/(b), x^(2)."""
    tag = el.tag
    kids = [_math(c) for c in el if c.tag not in ("annotation", "annotation-xml")]
    text = (el.text or "").strip()
    if tag in ("mi", "mn", "mo", "mtext", "ms"):
        return text
    if tag == "msqrt":
        return f"√({''.join(kids)})"
    if tag == "mroot" and len(kids) == 2:
        return f"root{kids[1]}({kids[0]})"
    if tag == "mfrac" and len(kids) == 2:
        return f"({kids[0]})/({kids[1]})"
    if tag in SCRIPTS and len(kids) == 2:
        return f"{kids[0]}{SCRIPTS[tag]}({kids[1]})"
    if tag == "msubsup" and len(kids) == 3:
        return f"{kids[0]}_({kids[1]})^({kids[2]})"
    if tag in ("munder", "mover") and len(kids) == 2:
        return f"{kids[0]}{kids[1]}"
    return " ".join(k for k in kids if k) if tag in ("mtr", "mtable") else "".join(kids)


def _walk(el: ET.Element, out: list[str]) -> None:
    tag = el.tag
    if tag == "math":
        out.append(_math(el))
        return
    if tag == "img":
        alt = " ".join((el.get("alt") or "").split())
        out.append(f"[{alt}]" if alt else "[image]")
    if tag == "br":
        out.append("\n")
    elif tag in BLOCKS:
        out.append("\n\n")
    elif tag in ("td", "th"):
        out.append(" ")
    out.append(el.text or "")
    for child in el:
        _walk(child, out)
        out.append(child.tail or "")
    if tag in BLOCKS:
        out.append("\n\n")
    elif tag in ("td", "th"):
        out.append(" ")


def text_of(html: str) -> str:
    """The words of (clean) ``html`` as plain text: blocks one blank line
    apart, spaces collapsed within lines, formulas written out in one line
    (√(2) < 2) so the plain text never says something else."""
    out: list[str] = []
    _walk(tree(html), out)
    lines = [" ".join(line.split()) for line in "".join(out).split("\n")]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip()


PLAIN = {"root", "p", "div", "span", "br"}


def image_names(html: str) -> list[str]:
    """The SHA-256 (hex) of every image the formatted text shows, in order."""
    return [m.group(1) for m in (IMAGE_SRC.fullmatch(el.get("src") or "") for el in
            tree(html).iter("img")) if m]  # fmt: skip


def with_image_addresses(html: str, addresses: dict[str, str]) -> str:
    """``html`` with each image's name replaced by the address a page serves
    it at (``addresses``: SHA-256 hex -> URL); an image without one is left
    out, its alternative text shown."""
    if "<img" not in html:
        return html
    root = tree(html)
    for parent in list(root.iter()):
        for img in list(parent):
            if img.tag != "img":
                continue
            found = IMAGE_SRC.fullmatch(img.get("src") or "")
            url = addresses.get(found.group(1)) if found else None
            if url is not None:
                img.set("src", url)
            else:
                _drop_image(parent, img)
    inner = ET.tostring(root, encoding="unicode", method="html")
    return inner.removeprefix("<root>").removesuffix("</root>")


def _drop_image(parent: ET.Element, img: ET.Element) -> None:
    words = " ".join((img.get("alt") or "").split())
    at = list(parent).index(img)
    parent.remove(img)
    _put_words(parent, at, (f"[{words}]" if words else "") + (img.tail or ""))


def is_plain(html: str) -> bool:
    """Whether plain text says all ``html`` does: paragraphs and line breaks
    only, no formatting, list, table or formula."""
    return all(el.tag in PLAIN and not el.attrib for el in tree(html).iter())
