"""The evidence bundle of a real attempt: built from the rows, verified
offline, and every tampering named by member and check."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from invigil.audit.models import AuditCheckpoint, AuditEvent
from invigil.cli.bundle import _requester
from invigil.context import Services
from invigil.settings import Settings
from invigil.verifier import Summary, attempt, load_key, verify
from invigil.verifier.bundle import Bundle, Failed
from invigil.verifier.proofs import thumbprint
from tests.conftest import BoundDatabase, make_user
from tests.results.bundles import (
    Sitting,
    build,
    canonical,
    edit_manifest,
    members,
    rezip,
    sitting,
)

CHECKED = ("manifest", "members", "hashes", "keys", "checkpoint", "inclusion", "anchors",
           "subject", "event chain")  # fmt: skip


@pytest.fixture
def services(settings: Settings) -> Services:
    return Services.build(settings)


@pytest.fixture
def sat(db: BoundDatabase, settings: Settings, services: Services) -> Sitting:
    return sitting(db, settings, services)


def check(data: bytes, pinned: dict | None = None) -> Summary:  # type: ignore[type-arg]
    return verify(io.BytesIO(data), pinned)


def failed(summary: Summary) -> tuple[str, str]:
    assert not summary.ok and summary.first is not None
    return summary.first.member, summary.first.check


def test_a_real_attempt_bundled_verifies(
    db: BoundDatabase, services: Services, sat: Sitting
) -> None:
    data = build(db, services, sat.tenant_id, sat.attempts[0])
    summary = check(data)
    assert summary.ok, summary.failures
    assert all(summary.checks[c] == "ok" for c in CHECKED), summary.checks
    found = members(data)
    paths = sorted(found)
    kinds = {p.split("/")[1] for p in paths if p.startswith("records/") and p.count("/") == 2}
    assert kinds == {"consents", "results", "marks", "releases", "review_decisions"}
    assert [p for p in paths if p.startswith("records/results/")] == [
        "records/results/0001.json",
        "records/results/0002.json",
    ]
    assert len(found["records/events.jsonl"].splitlines()) >= 2  # the tab switch, chained
    snapshots = [p for p in paths if p.startswith("evidence/snapshot/")]
    assert len(snapshots) == 1 and found[snapshots[0]] == sat.snapshot  # decrypted, whole
    assert any(p.startswith("evidence/recording_chunk/") for p in paths)
    assert found["report.pdf"].startswith(b"%PDF")
    manifest = json.loads(found["manifest.json"])
    assert manifest["format"] == "invigil-evidence-bundle/v1"
    assert manifest["subject"] == {"type": "attempt", "id": str(sat.attempts[0])}
    assert {k["invigil_purpose"] for k in manifest["keys"]} == {"audit-checkpoint"}
    for m in manifest["members"]:
        assert hashlib.sha256(found[m["path"]]).hexdigest() == m["sha256"]
    with db.unit_of_work(sat.tenant_id) as uow:  # sealed for it, and the build recorded
        sealed = uow.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()))
        built = uow.scalar(select(AuditEvent).where(AuditEvent.action == "bundle.built"))
    assert sealed is not None and built is not None and built.seq >= sealed.tree_size
    assert built.payload["evidence_included"] == [p for p in paths if p.startswith("evidence/")]


def test_every_flipped_byte_of_every_member_is_named(
    db: BoundDatabase, services: Services, sat: Sitting
) -> None:
    data = build(db, services, sat.tenant_id, sat.attempts[0])
    found = members(data)
    for path, content in found.items():
        if not content:
            continue
        for offset in sorted({0, len(content) // 3, len(content) // 2, len(content) - 1}):
            flipped = bytearray(content)
            flipped[offset] ^= 0x01
            summary = check(rezip(data, {path: bytes(flipped)}))
            member, failing = failed(summary)
            if path == "manifest.json":
                # A manifest changed is named as the manifest, or as the member
                # or key whose description it changed (nothing signs the manifest:
                # what it says is checked against the members and the log).
                assert failing in ("manifest", "members", "hashes", "keys", "checkpoint")
            else:
                assert (member, failing) == (path, "hashes"), (path, offset, summary.first)


def test_a_removed_member_is_named(db: BoundDatabase, services: Services, sat: Sitting) -> None:
    data = build(db, services, sat.tenant_id, sat.attempts[0])
    for path in members(data):
        if path == "manifest.json":
            assert failed(check(rezip(data, {path: None}))) == (path, "manifest")
        else:
            assert failed(check(rezip(data, {path: None}))) == (path, "members"), path
    extra = rezip(data, {"records/notes.json": b"{}"})
    assert failed(check(extra)) == ("records/notes.json", "members")


def test_a_member_of_another_attempt_is_named(
    db: BoundDatabase, services: Services, sat: Sitting
) -> None:
    mine = build(db, services, sat.tenant_id, sat.attempts[0])
    other = members(build(db, services, sat.tenant_id, sat.attempts[1]))
    for path in ("records/answers.jsonl", "records/events.jsonl", "records/results/0001.json"):
        swapped = rezip(mine, {path: other[path]})
        assert members(mine)[path] != other[path], path
        assert failed(check(swapped)) == (path, "hashes")

        def forge(manifest: dict, path: str = path) -> None:  # type: ignore[type-arg]
            for m in manifest["members"]:
                if m["path"] == path:
                    m["sha256"] = hashlib.sha256(other[path]).hexdigest()
                    m["size"] = len(other[path])

        # A forger who also fixes the manifest meets the log: the entry
        # that anchors this attempt's record states another hash.
        forged = rezip(edit_manifest(mine, forge), {path: other[path]})
        member, failing = failed(check(forged))
        assert (member, failing) == (path, "anchors"), check(forged).first


def test_a_tampered_manifest_is_named(db: BoundDatabase, services: Services, sat: Sitting) -> None:
    data = build(db, services, sat.tenant_id, sat.attempts[0])
    raw = members(data)["manifest.json"]
    spaced = rezip(data, {"manifest.json": raw.replace(b",", b", ", 1)})
    assert failed(check(spaced)) == ("manifest.json", "manifest")

    def other_subject(m: dict) -> None:  # type: ignore[type-arg]
        m["subject"]["id"] = str(sat.attempts[1])

    assert failed(check(edit_manifest(data, other_subject)))[1] in ("anchors", "subject")

    def drop_key(m: dict) -> None:  # type: ignore[type-arg]
        m["keys"] = []

    assert failed(check(edit_manifest(data, drop_key))) == ("manifest.json", "keys")

    def forge_key(m: dict) -> None:  # type: ignore[type-arg]
        forged = Ed25519PrivateKey.generate().public_key()
        m["keys"][0]["x"] = m["keys"][0]["x"][:-2] + "AA"
        m["keys"].append(m["keys"][0] | {"kid": thumbprint(forged)})

    assert failed(check(edit_manifest(data, forge_key))) == ("manifest.json", "keys")

    def claim_other_entry(m: dict) -> None:  # type: ignore[type-arg]
        results = [x for x in m["members"] if x["path"] == "records/results/0001.json"]
        answers = [x for x in m["members"] if x["path"] == "records/answers.jsonl"]
        results[0]["record"]["seq"] = answers[0]["record"]["seq"]

    _, failing = failed(check(edit_manifest(data, claim_other_entry)))
    assert failing in ("inclusion", "anchors")


def test_a_pinned_key_decides_trust(
    db: BoundDatabase, services: Services, sat: Sitting, tmp_path: Path
) -> None:
    data = build(db, services, sat.tenant_id, sat.attempts[0])
    ours = tmp_path / "ours.pem"
    ours.write_bytes(
        services.keys.audit.current().public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    assert check(data, load_key(ours)).ok
    theirs = tmp_path / "theirs.pem"
    theirs.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    summary = check(data, load_key(theirs))
    assert failed(summary) == ("audit/checkpoint.json", "checkpoint")
    assert "pinned" in summary.first.problem  # type: ignore[union-attr]


def test_evidence_by_permission_decrypted_or_hashes_only(
    db: BoundDatabase, services: Services, sat: Sitting
) -> None:
    reviewer = make_user(db, sat.tenant_id, ["proctor_reviewer"])  # evidence:view
    viewer = make_user(db, sat.tenant_id, ["results_viewer"])  # no evidence:view
    with db.unit_of_work(sat.tenant_id) as uow:
        assert _requester(uow, reviewer.email)[1] is True
        assert _requester(uow, viewer.email)[1] is False
        assert _requester(uow, None)[1] is False  # the operator: hashes only
    data = build(db, services, sat.tenant_id, sat.attempts[0], show=False)
    summary = check(data)
    assert summary.ok, summary.failures
    found = members(data)
    assert not [p for p in found if p.startswith("evidence/")]
    withheld = json.loads(found["manifest.json"])["withheld"]
    assert sorted(w["kind"] for w in withheld) == ["recording_chunk", "snapshot"]
    shot = next(w for w in withheld if w["kind"] == "snapshot")
    assert shot["sha256"] == hashlib.sha256(sat.snapshot).hexdigest()

    def lie(m: dict) -> None:  # type: ignore[type-arg]
        m["withheld"][0]["sha256"] = "0" * 64

    assert failed(check(edit_manifest(data, lie))) == ("manifest.json", "anchors")


def test_the_result_recomputes_from_the_bundle(
    db: BoundDatabase, services: Services, sat: Sitting
) -> None:
    data = build(db, services, sat.tenant_id, sat.attempts[0])
    summary = check(data)
    assert summary.ok and summary.checks["result"] == "ok", summary.out()
    found = members(data)
    latest = json.loads(found["records/results/0002.json"])
    latest["awarded"] = "99.00"  # read past the earlier checks: only this one decides
    opened = Bundle(
        zipfile.ZipFile(io.BytesIO(rezip(data, {"records/results/0002.json": canonical(latest)})))
    )
    opened.manifest = json.loads(found["manifest.json"])
    with pytest.raises(Failed, match=r"revision 2.*awarded") as failure:
        attempt.result(opened)
    assert failure.value.member == "records/results/0002.json"


def test_bundle_verify_command(
    db: BoundDatabase, services: Services, sat: Sitting, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from invigil.cli import cli

    data = build(db, services, sat.tenant_id, sat.attempts[0], show=False)
    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    good.write_bytes(data)
    bad.write_bytes(rezip(data, {"audit/proofs.json": None}))
    ok = CliRunner().invoke(cli, ["bundle", "verify", str(good)])
    assert ok.exit_code == 0 and "verified" in ok.output and "anchors      ok" in ok.output
    no = CliRunner().invoke(cli, ["bundle", "verify", str(bad)])
    assert no.exit_code == 1
    assert "NOT verified: audit/proofs.json: members: is listed in the manifest" in no.output
    as_json = CliRunner().invoke(cli, ["--json", "bundle", "verify", str(bad)])
    report = json.loads(as_json.output)
    assert report["first_failure"] == {
        "member": "audit/proofs.json",
        "check": "members",
        "problem": "is listed in the manifest but missing from the ZIP",
    }
    assert report["checks"]["hashes"] == "not run"


def test_a_paper_the_seed_does_not_draw_is_named(
    db: BoundDatabase, services: Services, sat: Sitting
) -> None:
    data = build(db, services, sat.tenant_id, sat.attempts[0])
    found = members(data)
    row = json.loads(found["records/attempt.json"])
    row["paper"] = list(reversed(row["paper"]))  # the same questions, in another order
    opened = Bundle(
        zipfile.ZipFile(io.BytesIO(rezip(data, {"records/attempt.json": canonical(row)})))
    )
    opened.manifest = json.loads(found["manifest.json"])
    with pytest.raises(Failed, match=r"paper\[0\]") as failure:
        attempt.result(opened)
    assert failure.value.member == "records/attempt.json"
