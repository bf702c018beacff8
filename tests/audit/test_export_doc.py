"""docs/formats/audit-export.md cannot drift from the code: its worked
example is recomputed from the committed example file, in Python with the
verifier's own functions and, where the tools exist, by running the very
shell lines the document shows and comparing their output; the example
verifies; every member of a real export is described."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from invigil.audit.checkpoints import parse_note
from invigil.audit.merkle import MerkleTree, inclusion_proof, leaf_hash, node_hash
from invigil.audit.offline import EXPORT_FORMAT, verify_export
from invigil.security.keys import public_key_from_jwk, thumbprint, verify_signature

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "formats" / "audit-export.md"
EXAMPLE = ROOT / "docs" / "formats" / "examples" / "audit-export-example.json"
TOOLS = ("bash", "python3", "sha256sum", "xxd", "openssl", "base64", "cut", "tr")


def example() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return data


def worked_example() -> str:
    text = DOC.read_text()
    start = text.index("## A worked example, by hand")
    return text[start : text.index("\n## ", start + 1)]


def console_lines() -> tuple[list[str], list[str]]:
    """The commands (after ``$ ``) and the output lines of the worked
    example's console blocks, in order."""
    commands, output = [], []
    for block in re.findall(r"```console\n(.*?)```", worked_example(), re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                commands.append(line[2:])
            elif line:
                output.append(line)
    return commands, output


def test_the_example_is_a_real_export_that_verifies() -> None:
    data = example()
    assert data["format"] == EXPORT_FORMAT
    report = verify_export(data)
    assert report.ok, report.problems
    assert (report.entries, report.checkpoints) == (3, 3)


def test_the_worked_examples_numbers_are_the_examples() -> None:
    """Each figure the document shows is recomputed here as it says."""
    data, doc = example(), worked_example()
    entries = [e["entry"].encode() for e in data["entries"]]
    leaves = [hashlib.sha256(b"\x00" + e).digest() for e in entries]
    assert [leaf.hex() for leaf in leaves] == [e["leaf_hash"] for e in data["entries"]]
    assert leaves == [leaf_hash(e) for e in entries]
    assert json.loads(entries[1])["prev"] == leaves[0].hex()
    first_two = hashlib.sha256(b"\x01" + leaves[0] + leaves[1]).digest()
    root = hashlib.sha256(b"\x01" + first_two + leaves[2]).digest()
    assert root == MerkleTree(leaves).root() == node_hash(first_two, leaves[2])
    cps = data["checkpoints"]
    assert [c["root_hash"] for c in cps] == [leaves[0].hex(), first_two.hex(), root.hex()]
    assert inclusion_proof(0, leaves) == [leaves[1], leaves[2]]  # as the document says
    assert MerkleTree(leaves).consistency_proof(2, 3) == [leaves[2]]
    for shown in (leaves[0].hex(), first_two.hex(), root.hex(), cps[2]["key_id"]):
        assert shown in doc
    root_b64 = base64.b64encode(root).decode()
    assert f"root {root_b64}\n" in cps[2]["note"] and f"root {root_b64}" in doc
    note = parse_note(cps[2]["note"])
    assert note is not None and note.size == 3 and note.root == root
    assert cps[2]["note"].count("\n") == 5 and cps[2]["note"].endswith("\n")
    for line in cps[2]["note"].splitlines():
        assert line in doc  # the note is shown whole
    (jwk,) = data["keys"]
    key = public_key_from_jwk(jwk)
    assert verify_signature(key, cps[2]["note"].encode(), base64.b64decode(cps[2]["signature"]))
    members = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": jwk["x"]}, separators=(",", ":"))
    kid = base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).rstrip(b"=")
    assert kid.decode() == thumbprint(key) == jwk["kid"] == cps[2]["key_id"]
    raw = base64.urlsafe_b64decode(jwk["x"] + "=")
    assert len(raw) == 32 and "302a300506032b6570032100" in doc


def test_every_member_of_an_export_is_described() -> None:
    data, doc = example(), DOC.read_text()
    names = set(data) | set(data["tenant"])
    names |= {k for part in ("entries", "checkpoints", "keys") for k in data[part][0]}
    names |= set(json.loads(data["entries"][0]["entry"]))
    missing = sorted(n for n in names if f"`{n}`" not in doc and f"`{data.get(n)}`" not in doc)
    assert missing == [], f"docs/formats/audit-export.md does not describe {missing}"


def test_the_worked_example_runs_as_written(tmp_path: Path) -> None:
    """The document's shell lines, run in one shell in an empty folder that
    holds the example, print exactly the output the document shows."""
    absent = [t for t in TOOLS if shutil.which(t) is None]
    assert absent == [], f"the worked example needs {', '.join(absent)} (make test installs them)"
    commands, expected = console_lines()
    assert len(commands) >= 20 and len(expected) >= 15
    shutil.copy(EXAMPLE, tmp_path / EXAMPLE.name)
    script = "set -euo pipefail\n" + "\n".join(commands) + "\n"
    ran = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == expected, ran.stderr
