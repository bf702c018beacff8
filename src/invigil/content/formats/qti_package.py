"""IMS content packages: a ZIP whose ``imsmanifest.xml`` lists QTI items and
their media (see docs/content-formats.md, "Content packages (ZIP)").

``read`` never raises and never trusts the upload: a package with any entry
that could escape a folder when unpacked (absolute path, ``..``, a backslash
path, a symlink), an encrypted or duplicate entry, more than 5,000 entries,
more than 10 MB in one entry or 100 MB in all, is refused whole before any
entry is decompressed. Sizes are checked as declared and again while reading
(a read stops one byte past its limit), and only deflate and stored entries
are read because the stdlib decompresses the others without an output bound.
Only the manifest, the items and the files their resources list are read;
each file is read once, however many items share it. Nothing here touches
the database: the importer turns the items into questions.

Media are keyed by their normalised path inside the zip (``resolve`` turns a
reference written in an item into that key), in ``read`` and ``write`` alike.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import re
import stat
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from invigil.security import safe_xml

MAX_ENTRIES = 5_000
MAX_TOTAL = 100 * 1024 * 1024
MAX_ENTRY = 10 * 1024 * 1024
MAX_PROBLEMS = 50
CHUNK = 256 * 1024
# Steps allowed to follow dependencies (resource x listed file): far above a
# real bank, far below what a manifest crafted to be quadratic would cost.
MAX_STEPS = 1_000_000
MANIFEST = "imsmanifest.xml"
CP = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
ITEM_TYPES = (
    "imsqti_item_xmlv3p0",
    "imsqti_item_xmlv2p2",
    "imsqti_item_xmlv2p1",
    "imsqti_item_xmlv2p0",
)
QTI1 = re.compile(r"imsqti_xmlv1p\d")
# Resource kinds that are never an item's media.
NOT_MEDIA = ("imsqti_test_", "imsqti_section_", "imsqti_xmlv1")
MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
READABLE = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,199}")
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Entry:
    """One item: ``href`` its path in the zip, ``data`` its bytes as stored
    (the XML declaration names their encoding), ``media`` the files its
    resource lists or depends on, by path in the zip."""

    href: str
    data: bytes
    media: dict[str, bytes]


@dataclass(frozen=True)
class Package:
    items: list[Entry]
    notes: list[str]
    problems: list[tuple[str, str]]  # (where, message), for the person importing
    # Every file the manifest lists as a media resource (webcontent, stimuli),
    # by path in the zip: what an item shows without declaring a dependency
    # on it, as many tools export.
    shared: dict[str, bytes] = field(default_factory=dict)


class _Refused(Exception):
    """The whole package is refused: (where, message)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where, self.message = where, message


def is_package(data: bytes) -> bool:
    """A ZIP, by its first bytes (an empty ZIP starts with its end record)."""
    return data[:4] in MAGIC


def resolve(entry: Entry, reference: str) -> str | None:
    """The key in ``entry.media`` of a reference written in the item (an
    ``img src``, an ``object data``), relative to the item's folder; None if
    it points outside the package."""
    return _join(posixpath.dirname(entry.href), reference)


# --- reading ---------------------------------------------------------------


def read(data: bytes) -> Package:
    """The package's items, what was left out (notes) and what is wrong
    (problems). Any problem means the package should not be imported."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return _Reader(zf).package()
    except _Refused as exc:
        return Package([], [], [(exc.where, exc.message)])
    except _BROKEN:
        return Package([], [], [("package", _NOT_A_ZIP)])


_NOT_A_ZIP = "this is not a readable ZIP file (not a zip, truncated or damaged)"
# What zipfile and zlib raise on a damaged archive: ValueError covers names
# that are not UTF-8, RuntimeError a password it was not given.
_BROKEN = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)


def _name(raw: str) -> str:
    """A zip entry name as a plain relative path, or :class:`_Refused`."""
    name = raw.replace("\\", "/")
    parts = name.split("/")
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        raise _Refused(raw, "the package holds a file with an absolute path; it is refused")
    if ".." in parts:
        raise _Refused(raw, "the package holds a file whose path leaves its folder (..)")
    if "\x00" in name:
        raise _Refused(raw, "the package holds a file name with a NUL character")
    return "/".join(p for p in parts if p not in ("", "."))


def _check(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Every file entry by normalised name, once every entry passed."""
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise _Refused("package", f"the package holds {len(infos)} files; at most "
                       f"{MAX_ENTRIES:,} are accepted")  # fmt: skip
    files: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        raw = info.filename
        if not raw:
            raise _Refused("package", "the package holds a file without a name; zip it again")
        name = _name(raw)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise _Refused(raw, "the package holds a symbolic link; it is refused")
        if info.flag_bits & 0x1:
            raise _Refused(raw, "the package holds an encrypted file; zip it without a password")
        if info.is_dir() or not name:
            continue
        if info.compress_type not in READABLE:
            raise _Refused(raw, "this file is compressed with a method other than deflate; "
                           "zip the package again with ordinary (deflate) compression")  # fmt: skip
        if name in files:
            raise _Refused(raw, "the package holds two files with this name")
        if info.file_size > MAX_ENTRY:
            raise _Refused(raw, f"this file is {_mb(info.file_size)} unpacked; at most "
                           f"{_mb(MAX_ENTRY)} per file is accepted")  # fmt: skip
        total += info.file_size
        if total > MAX_TOTAL:
            raise _Refused("package", f"the package is over {_mb(MAX_TOTAL)} unpacked; "
                           "split it into smaller packages")  # fmt: skip
        files[name] = info
    return files


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB"


def _join(folder: str, href: str) -> str | None:
    """``href`` (a URI reference) resolved against ``folder`` in the zip, or
    None when it is absolute, has a scheme or leaves the package."""
    parts = urlsplit(href.strip())
    if parts.scheme or parts.netloc or parts.path.startswith("/") or not parts.path:
        return None
    path = posixpath.normpath(posixpath.join(folder, unquote(parts.path)))
    if path == ".." or path.startswith("../") or path.startswith("/"):
        return None
    return path.removeprefix("./")


def _folder(base: str, el: ET.Element) -> str | None:
    """The folder ``el``'s ``xml:base`` names, from ``base``. A base without
    a closing slash names a folder too: packages write both."""
    value = el.get(XML_BASE)
    if value is None:
        return base
    joined = _join(base, value.rstrip("/") or ".")
    return None if joined is None else ("" if joined == "." else joined)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: ET.Element, name: str) -> Iterator[ET.Element]:
    return (c for c in el if isinstance(c.tag, str) and _local(c.tag) == name)


@dataclass
class _Resource:
    identifier: str
    kind: str
    href: str | None  # resolved zip path
    written: str  # the href as the manifest writes it, for messages
    files: list[str]
    depends: list[str]


class _Reader:
    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.files = _check(zf)
        self.read_total = 0
        self.cache: dict[str, bytes] = {}
        self.problems: list[tuple[str, str]] = []
        self.steps = 0

    def problem(self, where: str, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append((where, message))

    def bytes_of(self, name: str) -> bytes:
        """The entry's bytes, read once, never more than the limits."""
        if name in self.cache:
            return self.cache[name]
        limit = min(MAX_ENTRY, MAX_TOTAL - self.read_total)
        chunks: list[bytes] = []
        size = 0
        try:
            with self.zf.open(self.files[name]) as f:
                # In chunks: one read of the whole limit would make zlib
                # allocate the limit even for an entry that declares 1 KB.
                while chunk := f.read(min(CHUNK, limit + 1 - size)):
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > limit:
                        raise _Refused(name, "this file unpacks to more than the package "
                                       "limits allow; it is refused")  # fmt: skip
        except _BROKEN:
            raise _Refused(name, "this file in the package is damaged; zip it again") from None
        data = b"".join(chunks)
        self.read_total += size
        self.cache[name] = data
        return data

    def manifest(self) -> str:
        if MANIFEST in self.files:
            return MANIFEST
        nested = [n for n in self.files if n.count("/") == 1 and n.endswith("/" + MANIFEST)]
        if len(nested) == 1:
            return nested[0]
        if nested:
            raise _Refused("package", "several folders hold an imsmanifest.xml; "
                           "zip one package at a time")  # fmt: skip
        raise _Refused("package", "imsmanifest.xml is missing: a content package lists "
                       "its items there")  # fmt: skip

    def package(self) -> Package:
        where = self.manifest()
        try:
            root = safe_xml.parse(self.bytes_of(where))
        except safe_xml.Refused as exc:
            raise _Refused(where, str(exc)) from None
        if _local(root.tag) != "manifest":
            raise _Refused(where, "this is not a content package manifest "
                           "(its root element is not <manifest>)")  # fmt: skip
        resources = self.resources(root, posixpath.dirname(where))
        items, notes = self.items(resources)
        if self.problems:
            return Package([], notes, self.problems)
        return Package(items, notes, [], self.shared(resources))

    def shared(self, resources: dict[str, _Resource]) -> dict[str, bytes]:
        names = {
            name
            for res in resources.values()
            if res.kind not in ITEM_TYPES and not res.kind.startswith(NOT_MEDIA)
            for name in ([res.href] if res.href else []) + res.files
            if name in self.files
        }
        return {name: self.bytes_of(name) for name in sorted(names)}

    def resources(self, root: ET.Element, folder: str) -> dict[str, _Resource]:
        found: dict[str, _Resource] = {}
        top = _folder(folder, root)
        for group in _children(root, "resources"):
            base = None if top is None else _folder(top, group)
            for el in _children(group, "resource"):
                res = self.resource(el, base, len(found))
                if res.identifier in found:
                    self.problem(f"resource {res.identifier}", "two resources in "
                                 "imsmanifest.xml have this identifier")  # fmt: skip
                found.setdefault(res.identifier, res)
        return found

    def resource(self, el: ET.Element, base: str | None, n: int) -> _Resource:
        identifier = el.get("identifier") or f"#{n + 1}"
        folder = None if base is None else _folder(base, el)
        written = el.get("href") or ""

        def path(href: str) -> str | None:
            return None if folder is None else _join(folder, href)

        return _Resource(
            identifier=identifier,
            kind=(el.get("type") or "").strip().lower(),
            href=path(written) if written else None,
            written=written,
            files=[p for f in _children(el, "file") if (p := path(f.get("href") or ""))],
            depends=[d.get("identifierref") or "" for d in _children(el, "dependency")],
        )

    def items(self, resources: dict[str, _Resource]) -> tuple[list[Entry], list[str]]:
        items: list[Entry] = []
        seen: set[str] = set()
        tests = sections = qti1 = 0
        for res in resources.values():
            where = f"resource {res.identifier}"
            if res.kind in ITEM_TYPES:
                if res.href is None or res.href not in self.files:
                    self.problem(where, f"the item file {res.written or '(none named)'} "
                                 "is not in the package")  # fmt: skip
                    continue
                if res.href in seen:
                    continue
                seen.add(res.href)
                media = self.media(res, resources)
                if media is not None:
                    items.append(Entry(res.href, self.bytes_of(res.href), media))
            elif QTI1.fullmatch(res.kind):
                qti1 += 1
                self.problem(f"{where} ({res.written})",
                             "QTI 1.2 is not supported; export QTI 2.1, 2.2 or 3.0")  # fmt: skip
            elif res.kind.startswith("imsqti_test_"):
                tests += 1
            elif res.kind.startswith("imsqti_section_"):
                sections += 1
        if not items and not qti1 and not self.problems:
            self.problem("package", "the package lists no QTI items (resources of type "
                         "imsqti_item_xmlv3p0, v2p2, v2p1 or v2p0)")  # fmt: skip
        notes = []
        if tests or sections:
            left = [_count(tests, "assessment test"), _count(sections, "section")]
            notes.append(f"{' and '.join(x for x in left if x)} "
                         f"{'is' if tests + sections == 1 else 'are'} not imported; "
                         "their items are")  # fmt: skip
        return items, notes

    def media(self, item: _Resource, resources: dict[str, _Resource]) -> dict[str, bytes] | None:
        """The files ``item`` lists and those of the resources it depends on,
        transitively; None (and problems) when one is missing."""
        names: list[str] = []
        todo, visited, ok = [item.identifier], {item.identifier}, True
        while todo:
            res = resources[todo.pop()]
            for name in ([res.href] if res.href and res is not item else []) + res.files:
                self.steps += 1
                if name in self.files:
                    names.append(name)
                else:
                    ok = False
                    self.problem(f"resource {res.identifier}",
                                 f"the file {name} is not in the package")  # fmt: skip
            for dep in res.depends:
                self.steps += 1
                if dep not in resources:
                    ok = False
                    self.problem(f"resource {res.identifier}", f"it depends on {dep or '(none)'}"
                                 ", which imsmanifest.xml does not list")  # fmt: skip
                elif dep not in visited:
                    visited.add(dep)
                    todo.append(dep)
            if self.steps > MAX_STEPS:
                raise _Refused("package", "imsmanifest.xml lists too many files and "
                               "dependencies to follow; split the package")  # fmt: skip
        if not ok:
            return None
        return {n: self.bytes_of(n) for n in sorted(set(names)) if n != item.href}


def _count(n: int, noun: str) -> str:
    return "" if not n else f"{n} {noun}{'' if n == 1 else 's'}"


# --- writing ---------------------------------------------------------------


def write(items: list[tuple[str, bytes]], media: dict[str, bytes] | None = None) -> bytes:
    """A QTI 3.0 content package of ``items`` ((identifier, item XML)), each
    written to ``items/<identifier>.xml``, and ``media`` (by path in the
    package). An item's resource lists the media its XML references
    (attributes such as ``src``, relative to ``items/``); media no item
    references are left out. The same arguments give the same bytes."""
    media = media or {}
    paths = {}
    for identifier, _ in items:
        if not IDENTIFIER.fullmatch(identifier) or identifier in paths:
            raise ValueError(f"item identifier {identifier!r} is not a unique XML name")
        paths[identifier] = f"items/{identifier}.xml"
    for name in media:
        if _join("", name) != name or name == MANIFEST or name in paths.values():
            raise ValueError(f"media path {name!r} is not a plain path inside the package")
    used = {identifier: _references(data, media) for identifier, data in items}
    entries = [(MANIFEST, _manifest(items, paths, used))]
    entries += [(paths[identifier], data) for identifier, data in items]
    wanted = sorted(set().union(*used.values())) if used else []
    entries += [(name, media[name]) for name in wanted]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, whatever the machine writing it
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            zf.writestr(info, data)
    return out.getvalue()


def _references(data: bytes, media: dict[str, bytes]) -> set[str]:
    """The media paths an item's attributes point at, from ``items/``."""
    if not media:
        return set()
    try:
        root = safe_xml.parse(data)
    except safe_xml.Refused as exc:
        raise ValueError(f"an item is not readable XML: {exc}") from None
    found = set()
    for el in root.iter():
        for value in el.attrib.values():
            path = _join("items", value)
            if path in media:
                found.add(path)
    return found


def _manifest(
    items: list[tuple[str, bytes]], paths: dict[str, str], used: dict[str, set[str]]
) -> bytes:
    # Unqualified names under an xmlns attribute: ElementTree's prefix map is
    # one for the whole process, and its default_namespace option refuses
    # unqualified attributes.
    digest = hashlib.sha256("\n".join(paths.values()).encode()).hexdigest()[:16]
    root = ET.Element("manifest", xmlns=CP, identifier=f"MANIFEST-{digest}")
    metadata = ET.SubElement(root, "metadata")
    ET.SubElement(metadata, "schema").text = "QTI Package"
    ET.SubElement(metadata, "schemaversion").text = "3.0.0"
    ET.SubElement(root, "organizations")
    resources = ET.SubElement(root, "resources")
    for identifier, _ in items:
        res = ET.SubElement(resources, "resource", identifier=identifier,
                            type="imsqti_item_xmlv3p0", href=paths[identifier])  # fmt: skip
        for href in [paths[identifier], *sorted(used[identifier])]:
            ET.SubElement(res, "file", href=href)
    ET.indent(root)
    xml: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return xml
