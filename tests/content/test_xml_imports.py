"""QTI imports refuse every DTD, whatever the encoding of the file: the
parser refuses it, not a look at the text (which a UTF-16 file without a
byte-order mark slipped past while expat expanded its entities)."""

from __future__ import annotations

import ast
import codecs
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil.content import transfer
from invigil.content.formats import qti, qti_read
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase
from tests.content.factories import sample
from tests.content.test_api import headers, new_bank

SRC = Path(__file__).resolve().parents[2] / "src" / "invigil"

LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10 if n > 1 else "&lol;" * 10}">'
        for n in range(1, 10)
    )
    + "]><lolz>&lol9;</lolz>"
)
HOSTILE = {
    "billion laughs": LAUGHS,
    "quadratic blowup": f'<!DOCTYPE r [<!ENTITY a "{"a" * 50_000}">]><r>{"&a;" * 2000}</r>',
    "external entity": '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
    "external DTD": '<!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd"><r/>',
    "DOCTYPE only": "<!DOCTYPE qti-assessment-item><qti-assessment-item/>",
}
# (codec, byte-order mark, what the XML declaration says)
ENCODINGS = {
    "UTF-8": ("utf-8", b"", "UTF-8"),
    "UTF-8 BOM": ("utf-8", codecs.BOM_UTF8, "UTF-8"),
    "UTF-16LE": ("utf-16-le", b"", "UTF-16"),
    "UTF-16LE BOM": ("utf-16-le", codecs.BOM_UTF16_LE, "UTF-16"),
    "UTF-16BE": ("utf-16-be", b"", "UTF-16"),
    "UTF-16BE BOM": ("utf-16-be", codecs.BOM_UTF16_BE, "UTF-16"),
    "UTF-32LE": ("utf-32-le", b"", "UTF-32"),
    "UTF-32BE BOM": ("utf-32-be", codecs.BOM_UTF32_BE, "UTF-32"),
}


def encoded(xml: str, encoding: str) -> bytes:
    codec, bom, declared = ENCODINGS[encoding]
    return bom + f'<?xml version="1.0" encoding="{declared}"?>{xml}'.encode(codec)


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_every_dtd_is_refused_in_every_encoding(attack: str, encoding: str) -> None:
    parsed = transfer.parse("qti", encoded(HOSTILE[attack], encoding))
    assert parsed.questions == []
    [(where, message)] = parsed.problems
    assert where == "file"
    assert "DOCTYPE declarations are not accepted" in message or "UTF-32" in message, message


@pytest.mark.parametrize("encoding", [e for e in sorted(ENCODINGS) if "32" not in e])
def test_a_real_qti_file_imports_in_every_encoding_expat_reads(encoding: str) -> None:
    items = [sample("single_choice"), sample("essay")]
    text, _ = qti.dump([(f"Q-{n}", i) for n, i in enumerate(items)])
    body = text.split("?>", 1)[1] if text.startswith("<?xml") else text
    parsed = transfer.parse("qti", encoded(body, encoding))
    assert parsed.problems == [] and parsed.questions == items


def test_utf32_is_named() -> None:
    problems = qti_read.parse(encoded("<r/>", "UTF-32BE BOM")).problems
    assert problems == [("file", "the file is UTF-32, which is not accepted; save it as UTF-8")]


def test_an_entity_bomb_over_http_is_a_file_problem_not_a_500(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = headers(app, db, tenant_a, "question_manager")
    bank = new_bank(client, h, "Hostile XML")
    r = client.post(
        f"/api/v1/banks/{bank}/import?format=qti",
        content=encoded(HOSTILE["billion laughs"], "UTF-16LE"),
        headers=h,
    )
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    [problem] = r.json()["problems"]
    assert problem["where"] == "file" and "DOCTYPE" in problem["message"]
    assert client.get(f"/api/v1/banks/{bank}", headers=h).json()["questions"] == 0


# Reading XML goes through invigil.security.safe_xml only; building it is fine.
BUILDING = {"Element", "SubElement", "tostring", "register_namespace", "indent"}
READERS = ("xml.", "defusedxml", "lxml", "pyexpat")


def test_no_other_module_parses_xml() -> None:
    wrong = []
    for path in SRC.rglob("*.py"):
        if path == SRC / "security" / "safe_xml.py":
            continue
        tree = ast.parse(path.read_text(), str(path))
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith(READERS) or a.name in ("lxml", "pyexpat"):
                        if a.name != "xml.etree.ElementTree":
                            wrong.append(f"{path.name}: import {a.name}")
                        aliases[a.asname or a.name] = a.name
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(READERS):
                for a in node.names:
                    if node.module != "xml.etree.ElementTree" or a.name not in BUILDING:
                        wrong.append(f"{path.name}: from {node.module} import {a.name}")
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr not in BUILDING | {"Element", "ElementTree"}
                and node.attr[0].islower()
            ):
                wrong.append(f"{path.name}: {node.value.id}.{node.attr}")
    assert wrong == []
