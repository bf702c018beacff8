"""IMS content packages: what TAO-, Moodle- and Inspera-like packages give,
what a hostile upload gets (refused whole, quickly, in little memory), and
that a written package reads back the same and is the same bytes each time."""

from __future__ import annotations

import io
import stat
import struct
import time
import tracemalloc
import warnings
import zipfile
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invigil.content.formats import qti_package as pkg
from invigil.security import safe_xml

CP21 = "http://www.imsglobal.org/xsd/imscp_v1p1"
CP30 = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
CP12 = "http://www.imsglobal.org/xsd/imscp_v1p2"
QTI21 = "http://www.imsglobal.org/xsd/imsqti_v2p1"
QTI30 = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
MB = 1024 * 1024


def item(identifier: str, src: str | None = None, ns: str = QTI21) -> bytes:
    img = f'<img src="{src}" alt=""/>' if src else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><assessmentItem xmlns="{ns}" '
        f'identifier="{identifier}"><itemBody><p>{identifier}</p>{img}</itemBody>'
        "</assessmentItem>"
    ).encode()


def manifest(resources: str, ns: str = CP21, base: str = "") -> bytes:
    xml_base = f' xml:base="{base}"' if base else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><manifest xmlns="{ns}" identifier="M"'
        f"{xml_base}><organizations/><resources>{resources}</resources></manifest>"
    ).encode()


def resource(
    ident: str, kind: str, href: str, files: Sequence[str] = (), deps: Sequence[str] = ()
) -> str:
    listed = "".join(f'<file href="{f}"/>' for f in [href, *files] if f)
    needs = "".join(f'<dependency identifierref="{d}"/>' for d in deps)
    return f'<resource identifier="{ident}" type="{kind}" href="{href}">{listed}{needs}</resource>'


def zipped(files: dict[str, bytes], folder: str = "") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(folder + name, data)
    return out.getvalue()


def only_problem(data: bytes) -> tuple[str, str]:
    got = pkg.read(data)
    assert got.items == []
    [problem] = got.problems
    return problem


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


# --- what real packages give ------------------------------------------------


def tao() -> bytes:
    """TAO's layout: one folder per item with its images, a test resource."""
    return zipped(
        {
            "imsmanifest.xml": manifest(
                resource("i1", "imsqti_item_xmlv2p1", "items/i1/qti.xml", ["items/i1/img/a.png"])
                + resource("i2", "imsqti_item_xmlv2p1", "items/i2/qti.xml")
                + resource("t1", "imsqti_test_xmlv2p1", "tests/t1/test.xml", deps=["i1", "i2"])
            ),
            "items/i2/qti.xml": item("i2"),
            "items/i1/qti.xml": item("i1", "img/a.png"),
            "items/i1/img/a.png": PNG,
            "items/i1/img/unlisted.png": b"not listed by any resource",
            "tests/t1/test.xml": b"<assessmentTest/>",
        }
    )


def test_a_tao_package_gives_its_items_in_manifest_order_with_their_media() -> None:
    got = pkg.read(tao())
    assert got.problems == []
    assert [e.href for e in got.items] == ["items/i1/qti.xml", "items/i2/qti.xml"]
    first, second = got.items
    assert first.data == item("i1", "img/a.png") and second.data == item("i2")
    assert first.media == {"items/i1/img/a.png": PNG} and second.media == {}
    assert first.media[pkg.resolve(first, "img/a.png") or ""] == PNG
    assert got.notes == ["1 assessment test is not imported; their items are"]


def test_a_package_zipped_in_its_folder_reads_from_that_folder() -> None:
    """Moodle-like: the export folder zipped whole, v1p2 manifest."""
    files = {
        "imsmanifest.xml": manifest(
            resource("q1", "imsqti_item_xmlv2p2", "q1.xml", ["media/x.png"])
            + resource("q2", "imsqti_item_xmlv2p0", "sub/q2.xml", ["media/x.png"]),
            ns=CP12,
        ),
        "q1.xml": item("q1", "media/x.png"),
        "sub/q2.xml": item("q2", "../media/x.png"),
        "media/x.png": PNG,
    }
    got = pkg.read(zipped(files, folder="quiz-export/"))
    assert got.problems == []
    assert [e.href for e in got.items] == ["quiz-export/q1.xml", "quiz-export/sub/q2.xml"]
    assert [e.media for e in got.items] == [{"quiz-export/media/x.png": PNG}] * 2
    assert pkg.resolve(got.items[1], "../media/x.png") == "quiz-export/media/x.png"
    first, second = (e.media["quiz-export/media/x.png"] for e in got.items)
    assert first is second  # read once, shared: a thousand items cost one image


def test_a_qti3_item_gets_the_stimulus_it_depends_on_and_the_stimulus_media() -> None:
    # the stimulus depends back on the item: a cycle is followed once
    files = {
        "imsmanifest.xml": manifest(
            resource(
                "s", "imsqti_stimulus_xmlv3p0", "stimuli/s.xml", ["stimuli/map.png"], deps=["i"]
            )
            + resource("i", "imsqti_item_xmlv3p0", "items/i.xml", deps=["s", "css"])
            + resource("css", "webcontent", "", ["style/a.css"]),
            ns=CP30,
        ),
        "items/i.xml": item("i", ns=QTI30),
        "stimuli/s.xml": b"<qti-assessment-stimulus/>",
        "stimuli/map.png": PNG,
        "style/a.css": b"p{}",
    }
    [entry] = pkg.read(zipped(files)).items
    assert entry.media == {
        "stimuli/s.xml": b"<qti-assessment-stimulus/>",
        "stimuli/map.png": PNG,
        "style/a.css": b"p{}",
    }


def test_xml_base_on_the_manifest_and_resources_is_honoured() -> None:
    body = (
        b'<?xml version="1.0"?><manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" '
        b'xml:base="content/"><resources xml:base="bank">'
        b'<resource identifier="a" type="imsqti_item_xmlv2p1" href="a.xml" xml:base="q1/">'
        b'<file href="a.xml"/><file href="pic.png"/></resource>'
        b'<resource identifier="b" type="imsqti_item_xmlv2p1" href="b.xml">'
        b'<file href="b.xml"/></resource></resources></manifest>'
    )
    files = {
        "imsmanifest.xml": body,
        "content/bank/q1/a.xml": item("a"),
        "content/bank/q1/pic.png": PNG,
        "content/bank/b.xml": item("b"),
    }
    got = pkg.read(zipped(files))
    assert got.problems == []
    assert [e.href for e in got.items] == ["content/bank/q1/a.xml", "content/bank/b.xml"]
    assert got.items[0].media == {"content/bank/q1/pic.png": PNG}


def test_item_bytes_are_kept_as_stored_whatever_their_encoding() -> None:
    utf16 = '<?xml version="1.0" encoding="UTF-16"?><assessmentItem identifier="é"/>'
    data = utf16.encode("utf-16")
    files = {
        "imsmanifest.xml": manifest(resource("x", "imsqti_item_xmlv2p1", "x.xml")),
        "x.xml": data,
    }
    [entry] = pkg.read(zipped(files)).items
    assert entry.data == data and safe_xml.parse(entry.data).get("identifier") == "é"


def test_tests_and_sections_are_named_in_a_note() -> None:
    resources = (
        resource("t1", "imsqti_test_xmlv3p0", "t1.xml")
        + resource("t2", "imsqti_test_xmlv2p1", "t2.xml")
        + resource("s1", "imsqti_section_xmlv3p0", "s1.xml")
        + resource("i", "imsqti_item_xmlv3p0", "i.xml")
    )
    files = {"imsmanifest.xml": manifest(resources, ns=CP30), "i.xml": item("i", ns=QTI30)}
    got = pkg.read(zipped(files))
    assert got.problems == [] and len(got.items) == 1
    assert got.notes == ["2 assessment tests and 1 section are not imported; their items are"]


# --- what is wrong with a package -----------------------------------------


def test_a_zip_without_a_manifest_says_where_items_are_listed() -> None:
    assert only_problem(zipped({"q.xml": item("q")})) == (
        "package",
        "imsmanifest.xml is missing: a content package lists its items there",
    )


def test_a_missing_item_file_names_the_resource_and_the_file() -> None:
    files = {
        "imsmanifest.xml": manifest(
            resource("here", "imsqti_item_xmlv2p1", "here.xml")
            + resource("gone", "imsqti_item_xmlv2p1", "items/gone.xml")
        ),
        "here.xml": item("here"),
    }
    assert only_problem(zipped(files)) == (
        "resource gone",
        "the item file items/gone.xml is not in the package",
    )


def test_a_missing_media_file_or_dependency_is_a_problem() -> None:
    files = {
        "imsmanifest.xml": manifest(
            resource("a", "imsqti_item_xmlv2p1", "a.xml", ["img/none.png"], deps=["nowhere"])
        ),
        "a.xml": item("a"),
    }
    got = pkg.read(zipped(files))
    assert got.items == []
    assert got.problems == [
        ("resource a", "the file img/none.png is not in the package"),
        ("resource a", "it depends on nowhere, which imsmanifest.xml does not list"),
    ]


def test_qti_1_2_is_named_with_what_to_export_instead() -> None:
    files = {
        "imsmanifest.xml": manifest(resource("old", "imsqti_xmlv1p2", "old/questions.xml")),
        "old/questions.xml": b"<questestinterop/>",
    }
    assert only_problem(zipped(files)) == (
        "resource old (old/questions.xml)",
        "QTI 1.2 is not supported; export QTI 2.1, 2.2 or 3.0",
    )


def test_a_package_without_items_is_a_problem() -> None:
    files = {
        "imsmanifest.xml": manifest(resource("w", "webcontent", "page.html")),
        "page.html": b"<p/>",
    }
    where, message = only_problem(zipped(files))
    assert where == "package" and message.startswith("the package lists no QTI items")


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"<manifest", "not well-formed"),
        (
            b'<!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><manifest>&x;</manifest>',
            "DOCTYPE",
        ),
        (b"<assessmentItem/>", "root element is not <manifest>"),
    ],
)
def test_a_bad_manifest_is_a_problem_of_the_manifest(body: bytes, said: str) -> None:
    where, message = only_problem(zipped({"imsmanifest.xml": body}))
    assert where == "imsmanifest.xml" and said in message


def test_two_folders_with_a_manifest_are_refused() -> None:
    one = manifest(resource("a", "imsqti_item_xmlv2p1", "a.xml"))
    files = {"x/imsmanifest.xml": one, "x/a.xml": item("a"), "y/imsmanifest.xml": one}
    assert only_problem(zipped(files))[1].startswith("several folders hold an imsmanifest.xml")


def test_problems_stop_at_50() -> None:
    listed = "".join(resource(f"i{n}", "imsqti_item_xmlv2p1", f"{n}.xml") for n in range(80))
    got = pkg.read(zipped({"imsmanifest.xml": manifest(listed)}))
    assert len(got.problems) == pkg.MAX_PROBLEMS == 50


def test_dependencies_crafted_to_cost_quadratic_time_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every item depends on a hub listing every file: items x files steps."""
    monkeypatch.setattr(pkg, "MAX_STEPS", 20 * 20)
    hub = resource("hub", "webcontent", "", [f"m/{n}.png" for n in range(20)])
    items = "".join(
        resource(f"i{n}", "imsqti_item_xmlv2p1", f"{n}.xml", deps=["hub"]) for n in range(25)
    )
    files = {f"{n}.xml": item(f"i{n}") for n in range(25)}
    files |= {f"m/{n}.png": PNG for n in range(20)}
    files["imsmanifest.xml"] = manifest(hub + items)
    assert only_problem(zipped(files)) == (
        "package",
        "imsmanifest.xml lists too many files and dependencies to follow; split the package",
    )
    monkeypatch.setattr(pkg, "MAX_STEPS", 25 * 21 * 2)
    assert len(pkg.read(zipped(files)).items) == 25


# --- hostile uploads ---------------------------------------------------------


def valid(extra: dict[str, bytes] | None = None) -> dict[str, bytes]:
    return {
        "imsmanifest.xml": manifest(resource("a", "imsqti_item_xmlv2p1", "a.xml")),
        "a.xml": item("a"),
        **(extra or {}),
    }


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("/etc/passwd", "absolute path"),
        ("C:/Windows/x.dll", "absolute path"),
        ("../outside.xml", "leaves its folder"),
        ("items/../../outside.xml", "leaves its folder"),
        ("..\\..\\outside.xml", "leaves its folder"),
        ("items\\..\\..\\outside.xml", "leaves its folder"),
        ("\\\\server\\share\\x", "absolute path"),
    ],
)
def test_paths_that_leave_the_package_are_refused(name: str, said: str) -> None:
    where, message = only_problem(zipped(valid({name: b"x"})))
    assert where == name and said in message


def test_a_symlink_entry_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in valid().items():
            zf.writestr(name, data)
        link = zipfile.ZipInfo("img.png")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    assert only_problem(out.getvalue()) == (
        "img.png",
        "the package holds a symbolic link; it is refused",
    )


def test_an_entry_without_a_name_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in valid().items():
            zf.writestr(name, data)
        zf.writestr(zipfile.ZipInfo(""), b"x")
    assert only_problem(out.getvalue()) == (
        "package",
        "the package holds a file without a name; zip it again",
    )


def central(data: bytes, name: str) -> int:
    """Where the central directory record of ``name`` starts."""
    at = data.index(b"PK\x01\x02")
    while (
        data[at + 46 : at + 46 + struct.unpack("<H", data[at + 28 : at + 30])[0]] != name.encode()
    ):
        at = data.index(b"PK\x01\x02", at + 4)
    return at


def patched(data: bytes, name: str, offset: int, fmt: str, value: int) -> bytes:
    at = central(data, name) + offset
    return data[:at] + struct.pack(fmt, value) + data[at + struct.calcsize(fmt) :]


def test_an_encrypted_entry_is_refused() -> None:
    data = patched(zipped(valid()), "a.xml", 8, "<H", 0x1)  # general purpose flag: encrypted
    assert only_problem(data) == (
        "a.xml",
        "the package holds an encrypted file; zip it without a password",
    )


@pytest.mark.parametrize("second", ["a.xml", "./a.xml", "x/../a.xml", "/a.xml"])
def test_duplicate_names_are_refused(second: str) -> None:
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w") as zf:
        warnings.simplefilter("ignore")  # zipfile warns on the duplicate it writes
        for name, data in valid().items():
            zf.writestr(name, data)
        zf.writestr(second, b"the other a.xml")
    where, message = only_problem(out.getvalue())
    assert where == second and ("two files with this name" in message or "path" in message)


def test_more_than_5000_entries_are_refused() -> None:
    extra = {f"m/{n}.txt": b"" for n in range(pkg.MAX_ENTRIES)}
    assert only_problem(zipped(valid(extra))) == (
        "package",
        f"the package holds {pkg.MAX_ENTRIES + 2} files; at most 5,000 are accepted",
    )


def zeros(sizes: dict[str, int]) -> bytes:
    """A zip of ``valid()`` plus entries of zeros, written in chunks."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in valid().items():
            zf.writestr(name, data)
        chunk = bytes(MB)
        for name, size in sizes.items():
            with zf.open(name, "w") as f:
                for _ in range(size // MB):
                    f.write(chunk)
                f.write(bytes(size % MB))
    return out.getvalue()


def read_measured(data: bytes) -> tuple[pkg.Package, float, int]:
    tracemalloc.start()
    start = time.perf_counter()
    try:
        got = pkg.read(data)
        return got, time.perf_counter() - start, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_zip_bomb_is_refused_quickly_without_unpacking_it() -> None:
    bomb = zeros({"bomb.bin": 101 * MB})
    assert len(bomb) < 200_000
    got, seconds, peak = read_measured(bomb)
    assert got.items == [] and got.problems == [
        ("bomb.bin", "this file is 101 MB unpacked; at most 10 MB per file is accepted")
    ]
    assert seconds < 1 and peak < 2 * MB


def test_entries_over_100_mb_in_all_are_refused() -> None:
    many = zeros({f"part{n}.bin": 9 * MB for n in range(12)})
    got, seconds, peak = read_measured(many)
    assert got.problems == [
        ("package", "the package is over 100 MB unpacked; split it into smaller packages")
    ]
    assert seconds < 1 and peak < 2 * MB


def test_an_entry_over_10_mb_is_refused() -> None:
    where, message = only_problem(zeros({"big.bin": 10 * MB + 1}))
    assert where == "big.bin" and "at most 10 MB per file" in message


def test_a_size_that_lies_stops_the_read_at_the_declared_size() -> None:
    """The central directory says 1 KB; the entry holds 50 MB of zeros that a
    listed media file points at. The read stops at 1 KB and the package is
    refused as damaged, in little memory."""
    files = valid()
    files["imsmanifest.xml"] = manifest(resource("a", "imsqti_item_xmlv2p1", "a.xml", ["liar.bin"]))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        with zf.open("liar.bin", "w") as f:
            for _ in range(50):
                f.write(bytes(MB))
    lying = patched(out.getvalue(), "liar.bin", 24, "<I", 1024)  # uncompressed size
    got, seconds, peak = read_measured(lying)
    assert got.items == []
    assert got.problems == [("liar.bin", "this file in the package is damaged; zip it again")]
    assert seconds < 1 and peak < 4 * MB


def test_compression_other_than_deflate_is_refused() -> None:
    """bzip2 and LZMA entries are unpacked by the stdlib without an output
    bound, so they are not read at all."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_BZIP2) as zf:
        for name, data in valid().items():
            zf.writestr(name, data)
    where, message = only_problem(out.getvalue())
    assert where == "imsmanifest.xml" and "other than deflate" in message


@pytest.mark.parametrize(
    "data",
    [b"", b"PK\x03\x04", b"not a zip at all", b"PK\x05\x06" + bytes(18)],
    ids=["empty", "magic only", "text", "empty zip"],
)
def test_what_is_not_a_package_is_a_problem(data: bytes) -> None:
    where, message = only_problem(data)
    assert where == "package"
    assert "not a readable ZIP" in message or "imsmanifest.xml is missing" in message


def test_every_truncation_and_every_flipped_byte_of_a_package_is_a_problem_or_a_package() -> None:
    good = tao()
    for cut in range(len(good)):
        got = pkg.read(good[:cut])
        assert got.problems and got.items == []
    for at in range(len(good)):
        got = pkg.read(good[:at] + bytes([good[at] ^ 0xFF]) + good[at + 1 :])
        assert got.problems or got.items


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_read_never_raises_on_garbage(data: bytes) -> None:
    got = pkg.read(data)
    assert got.problems or got.items


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8))
def test_read_never_raises_on_a_damaged_package(changes: list[tuple[int, int]]) -> None:
    data = bytearray(tao())
    for at, value in changes:
        data[at % len(data)] = value
    got = pkg.read(bytes(data))
    assert got.problems or got.items


# --- writing ---------------------------------------------------------------


def bank() -> tuple[list[tuple[str, bytes]], dict[str, bytes]]:
    items = [
        ("Q-2", item("Q-2", "../media/chart.png", ns=QTI30)),
        ("Q-1", item("Q-1", "img/own.png", ns=QTI30)),
        ("Q-3", item("Q-3", ns=QTI30)),
    ]
    media = {"media/unused.png": b"u", "items/img/own.png": b"own", "media/chart.png": PNG}
    return items, media


def test_a_written_package_reads_back_the_items_and_their_media() -> None:
    items, media = bank()
    got = pkg.read(pkg.write(items, media))
    assert got.problems == [] and got.notes == []
    assert [(e.href, e.data) for e in got.items] == [
        (f"items/{identifier}.xml", data) for identifier, data in items
    ]
    assert [e.media for e in got.items] == [
        {"media/chart.png": PNG},
        {"items/img/own.png": b"own"},
        {},
    ]


def test_the_written_manifest_is_qti_3_with_its_metadata() -> None:
    items, media = bank()
    with zipfile.ZipFile(io.BytesIO(pkg.write(items, media))) as zf:
        names = zf.namelist()
        root = safe_xml.parse(zf.read("imsmanifest.xml"))
        stamps = {i.date_time for i in zf.infolist()}
    assert names == [
        "imsmanifest.xml",
        "items/Q-2.xml",
        "items/Q-1.xml",
        "items/Q-3.xml",
        "items/img/own.png",
        "media/chart.png",
    ]
    assert stamps == {(1980, 1, 1, 0, 0, 0)}
    ns = f"{{{pkg.CP}}}"
    assert root.tag == f"{ns}manifest" and pkg.CP == CP30
    assert root.findtext(f"{ns}metadata/{ns}schema") == "QTI Package"
    assert root.findtext(f"{ns}metadata/{ns}schemaversion") == "3.0.0"
    first = root.find(f"{ns}resources/{ns}resource")
    assert first is not None and first.attrib == {
        "identifier": "Q-2",
        "type": "imsqti_item_xmlv3p0",
        "href": "items/Q-2.xml",
    }
    assert [f.get("href") for f in first] == ["items/Q-2.xml", "media/chart.png"]


def test_the_same_bank_writes_the_same_bytes() -> None:
    items, media = bank()
    again = dict(reversed(list(media.items())))
    assert pkg.write(items, media) == pkg.write(list(items), again)
    assert pkg.write(items, media) != pkg.write(items[:2], media)


@pytest.mark.parametrize(
    ("items", "media"),
    [
        ([("Q 1", b"<i/>")], {}),
        ([("Q-1", b"<i/>"), ("Q-1", b"<i/>")], {}),
        ([("../x", b"<i/>")], {}),
        ([("Q-1", b"<i/>")], {"../x.png": b""}),
        ([("Q-1", b"<i/>")], {"imsmanifest.xml": b""}),
        ([("Q-1", b"<i/>")], {"items/Q-1.xml": b""}),
    ],
)
def test_write_refuses_names_that_would_not_read_back(
    items: list[tuple[str, bytes]], media: dict[str, bytes]
) -> None:
    with pytest.raises(ValueError, match=r"identifier|media path"):
        pkg.write(items, media)


def test_is_package_is_the_zip_magic() -> None:
    assert pkg.is_package(pkg.write([]))
    assert pkg.is_package(tao())
    assert not pkg.is_package(item("q"))
    assert not pkg.is_package(b"")


@pytest.mark.parametrize(
    ("reference", "key"),
    [
        ("img/a.png", "items/i1/img/a.png"),
        ("./img/a%20b.png#x", "items/i1/img/a b.png"),
        ("../shared/s.png", "items/shared/s.png"),
        ("../../../etc/passwd", None),
        ("https://example.org/a.png", None),
        ("/abs.png", None),
    ],
)
def test_resolve_turns_an_items_reference_into_its_media_key(
    reference: str, key: str | None
) -> None:
    entry = pkg.Entry("items/i1/qti.xml", b"", {})
    assert pkg.resolve(entry, reference) == key
