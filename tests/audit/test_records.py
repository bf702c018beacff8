"""Records anchored in the log: a result, a submitted answer sheet, a consent,
a review decision and a sealed event stream changed by a superuser with the triggers
off are each named by `audit verify` and by `verify-export` of an export
taken after the change; the integrity summary sees a missing event."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from invigil import audit
from invigil.audit import checkpoints, service
from invigil.audit.offline import verify_export
from invigil.audit.records import (
    Anchor,
    Record,
    Recording,
    check_records,
    digest_flaw,
    document_sha256,
    witnessed,
)
from invigil.audit.verify import Report
from invigil.cli import cli
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.db.urls import DatabaseUrls
from invigil.delivery import attempts
from invigil.delivery.demo import demo_answers
from invigil.delivery.landing import consent_text
from invigil.delivery.models import Attempt, AttemptResult, Consent
from invigil.delivery.records import SOURCES as DELIVERY
from invigil.proctoring import pipeline, review_pages, reviews, summary
from invigil.proctoring.models import ProctoringAction
from invigil.proctoring.records import SOURCES as PROCTORING
from invigil.security.keys import Keys
from invigil.settings import Settings
from invigil.web.pages import templates
from tests.conftest import make_tenant, make_user
from tests.delivery.factories import exam_with_every_type, kit_for, make_invitation
from tests.proctoring.test_pipeline import Chain, custom, rule

SOURCES = (*DELIVERY, *PROCTORING)
POLICY = custom(rule("tab-flag", "tab.hidden", "flag", severity="medium"))


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("record-keys"))


@dataclass(frozen=True)
class Sat:
    tenant_id: uuid.UUID
    slug: str
    attempt_id: uuid.UUID
    result_id: uuid.UUID
    decision_id: uuid.UUID
    consent_id: uuid.UUID


def sit_and_review(database: Database, settings: Settings, keys: Keys) -> Sat:
    """A committed, submitted, proctored attempt with its result and a
    reviewer's decision on its flag, as the services write them."""
    tenant = make_tenant(database, settings)
    kit = kit_for(settings)
    exam = exam_with_every_type(database, tenant.id, settings={"proctoring_policy": POLICY})
    invitation = make_invitation(database, tenant.id, kit, exam).invitation
    now = datetime.now(UTC)
    with database.unit_of_work(tenant.id, Actor("candidate", "c-1")) as uow:
        version = attempts.version_of(uow, invitation.exam_id, invitation.exam_version)
        text = consent_text(version)
        attempt = attempts.start(
            uow,
            kit.key,
            uow.get(type(invitation), invitation.id),
            version,
            consent_text=text,
            consent_language="en",
            shown_sha256=attempts.text_sha256(text),
            shown_language="en",
            browser=attempts.Browser(address="test", user_agent="test"),
            now=now,
        ).attempt
        attempt.face_seen_at = now  # as if the system check saw a face
        attempts.begin(uow, attempt, version, uow.get(type(invitation), invitation.id), now=now)
        attempts.save(uow, attempt, demo_answers(uow, attempt, 0.5), now=now)
        chain = Chain(str(attempt.id))
        start = chain.message("tab.hidden", "start", now)
        sent = [start, chain.message("tab.hidden", "end", now + timedelta(seconds=5), ends=1)]
        sent.append(chain.message("clipboard.copy", "instant", now + timedelta(seconds=6)))
        taken = pipeline.ingest(uow, attempt, [pipeline.Message(**m) for m in sent], now)
        assert [r.status for r in taken.results] == ["stored"] * 3
        pipeline.server_event(
            uow, attempt, "detector.failed", "instant", now, details={"source": "server"}
        )
        attempts.submit(uow, attempt, "candidate", now=now + timedelta(seconds=30))
        attempt_id = attempt.id
    reviewer = make_user(database, tenant.id, ["proctor_reviewer"])
    with database.unit_of_work(tenant.id, Actor("user", str(reviewer.id))) as uow:
        flag = uow.scalar(select(ProctoringAction).where(ProctoringAction.attempt_id == attempt_id))
        assert flag is not None
        request = reviews.Decide("flag", "confirmed", "seen on the stream", action_id=flag.id)
        decision_id = reviews.decide(uow, attempt_id, request).id
        result_id = uow.scalar(
            select(AttemptResult.id).where(AttemptResult.attempt_id == attempt_id)
        )
        assert result_id is not None
        consent_id = uow.scalar(select(Consent.id).where(Consent.attempt_id == attempt_id))
        assert consent_id is not None
    with database.unit_of_work(tenant.id, Actor.system()) as uow:
        checkpoints.seal(uow, keys.audit)
    return Sat(tenant.id, tenant.slug, attempt_id, result_id, decision_id, consent_id)


@pytest.fixture(scope="module")
def sat(database: Database, settings: Settings, keys: Keys) -> Sat:
    return sit_and_review(database, settings, keys)


@pytest.fixture
def superuser(urls: DatabaseUrls, sat: Sat) -> Iterator[Connection]:
    """The owner gone rogue: a superuser that switches the triggers off for its
    session. Its transaction is rolled back, so the damage never lands."""
    engine = create_engine(urls.admin.set(database=urls.owner.database), poolclass=NullPool)
    with engine.connect() as conn:
        tx = conn.begin()
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        yield conn
        tx.rollback()
    engine.dispose()


def as_app(conn: Connection, tenant_id: uuid.UUID) -> UnitOfWork:
    """The tampered rows read as the app role reads them: bound to the tenant
    by row-level security. (The owner may also look up every tenant's
    certificates, for public verification, so as the owner the report would
    hold other tests' certificates.)"""
    conn.exec_driver_sql("SET LOCAL ROLE invigil_app")
    return UnitOfWork.begin(Session(bind=conn), tenant_id, Actor.operator())


def verify(conn: Connection, sat: Sat, keys: Keys) -> Report:
    """`audit verify` on the tampered rows (as the app role, bound by RLS)."""
    try:
        return service.verify_tenant(as_app(conn, sat.tenant_id), keys.audit, SOURCES)
    finally:
        conn.exec_driver_sql("RESET ROLE")


def exported(conn: Connection, sat: Sat, keys: Keys) -> dict[str, Any]:
    """`audit export` taken after the tampering, through a JSON file's round trip."""
    try:
        data = service.export(as_app(conn, sat.tenant_id), keys.audit, sat.slug, SOURCES)
    finally:
        conn.exec_driver_sql("RESET ROLE")
    loaded: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return loaded


def first_bad(report: Report) -> dict[str, str]:
    assert not report.ok and not report.problems, report.problems  # the log itself is intact
    assert report.records is not None and report.records.first_bad is not None
    bad: dict[str, str] = report.records.first_bad
    return bad


def test_an_untouched_tenant_verifies_records_and_all(
    database: Database, sat: Sat, keys: Keys
) -> None:
    with database.unit_of_work(sat.tenant_id, Actor.operator()) as uow:
        report = service.verify_tenant(uow, keys.audit, SOURCES)
        data = json.loads(
            json.dumps(service.export(uow, keys.audit, sat.slug, SOURCES), default=str)
        )
    assert report.ok, (report.problems, report.records)
    records = report.records
    assert records is not None and records.warnings == []
    # a result, an answer sheet, a consent, an event stream, a review decision: each anchored
    assert (records.records, records.anchored) == (5, 5)
    assert {r["kind"] for r in data["records"]} == {
        "result",
        "answers",
        "consent",
        "events",
        "review_decision",
    }
    offline = verify_export(data)
    assert offline.ok and offline.records is not None and offline.records.anchored == 5


def test_a_forged_result_is_named(superuser: Connection, sat: Sat, keys: Keys) -> None:
    """9/17 failed becomes 17/17 passed: the document and every column agree."""
    superuser.exec_driver_sql(
        "UPDATE attempt_results SET passed = true, awarded = max_points, percent = 100, "
        "document = document || jsonb_build_object('passed', true, 'awarded', document->'max', "
        "'percent', '100.00') WHERE id = %s",
        (sat.result_id,),
    )
    bad = first_bad(verify(superuser, sat, keys))
    assert (bad["kind"], bad["id"]) == ("result", str(sat.result_id))
    assert "its document was changed" in bad["problem"]
    offline = verify_export(exported(superuser, sat, keys)).records
    assert offline is not None and offline.first_bad is not None
    assert offline.first_bad["id"] == str(sat.result_id)


def test_a_column_changed_under_its_document_is_named(
    superuser: Connection, sat: Sat, keys: Keys
) -> None:
    superuser.exec_driver_sql(
        "UPDATE attempt_results SET passed = NOT coalesce(passed, false) WHERE id = %s",
        (sat.result_id,),
    )
    bad = first_bad(verify(superuser, sat, keys))
    assert bad["id"] == str(sat.result_id) and "column passed" in bad["problem"]


def test_a_changed_stored_hash_is_named(superuser: Connection, sat: Sat, keys: Keys) -> None:
    superuser.exec_driver_sql(
        "UPDATE attempt_results SET document_sha256 = repeat('0', 64) WHERE id = %s",
        (sat.result_id,),
    )
    bad = first_bad(verify(superuser, sat, keys))
    assert bad["id"] == str(sat.result_id) and "stored hash" in bad["problem"]
    offline = verify_export(exported(superuser, sat, keys)).records
    assert offline is not None and offline.first_bad == bad


def test_a_deleted_event_of_a_sealed_attempt_is_named_and_a_gap_shows(
    superuser: Connection, sat: Sat, keys: Keys
) -> None:
    superuser.exec_driver_sql(
        "DELETE FROM proctoring_events WHERE attempt_id = %s AND seq = 3", (sat.attempt_id,)
    )
    bad = first_bad(verify(superuser, sat, keys))
    assert (bad["kind"], bad["id"]) == ("events", str(sat.attempt_id))
    assert "4 events anchored, 3 now (1 missing)" in bad["problem"]
    offline = verify_export(exported(superuser, sat, keys)).records
    assert offline is not None and offline.first_bad == bad
    uow = as_app(superuser, sat.tenant_id)
    attempt = uow.get(Attempt, sat.attempt_id)
    seen = summary.summarize(uow, attempt)
    assert (seen.stream_intact, seen.stream_missing) == (False, 1)
    assert callable(review_pages.integrity_summary)  # registers what the template calls
    page = templates.env.get_template("proctoring/_integrity.html").render(
        page=_Page(uow), d=_Detail(attempt)
    )
    assert "Changed since it was sealed: 1 event missing" in re.sub(r"<[^>]+>", "", page)


@dataclass
class _Page:
    uow: Any

    def can(self, permission: str) -> bool:
        return True


@dataclass
class _Detail:
    attempt: Attempt


def test_an_altered_event_is_named(superuser: Connection, sat: Sat, keys: Keys) -> None:
    superuser.exec_driver_sql(
        "UPDATE proctoring_events SET kind = 'focus.lost' WHERE attempt_id = %s AND seq = 1",
        (sat.attempt_id,),
    )
    bad = first_bad(verify(superuser, sat, keys))
    assert (bad["kind"], bad["id"]) == ("events", str(sat.attempt_id))
    uow = as_app(superuser, sat.tenant_id)
    seen = summary.summarize(uow, uow.get(Attempt, sat.attempt_id))
    assert (seen.stream_intact, seen.stream_missing) == (False, 0)


def test_an_altered_answer_of_a_submitted_attempt_is_named(
    superuser: Connection, sat: Sat, keys: Keys
) -> None:
    superuser.exec_driver_sql(
        "UPDATE attempt_answers SET response = '\"changed\"' WHERE attempt_id = %s AND slot = ("
        "SELECT min(slot) FROM attempt_answers WHERE attempt_id = %s)",
        (sat.attempt_id, sat.attempt_id),
    )
    bad = first_bad(verify(superuser, sat, keys))
    assert (bad["kind"], bad["id"]) == ("answers", str(sat.attempt_id))
    offline = verify_export(exported(superuser, sat, keys)).records
    assert offline is not None and offline.first_bad == bad


def test_an_altered_review_decision_is_named(
    superuser: Connection, sat: Sat, keys: Keys, tmp_path: Path
) -> None:
    superuser.exec_driver_sql(
        "UPDATE review_decisions SET decision = 'dismissed' WHERE id = %s", (sat.decision_id,)
    )
    bad = first_bad(verify(superuser, sat, keys))
    assert (bad["kind"], bad["id"]) == ("review_decision", str(sat.decision_id))
    data = exported(superuser, sat, keys)
    offline = verify_export(data).records
    assert offline is not None and offline.first_bad == bad
    # and as an auditor runs it, with nothing but the file
    (tmp_path / "export.json").write_text(json.dumps(data))
    run = CliRunner().invoke(cli, ["audit", "verify-export", str(tmp_path / "export.json")])
    assert run.exit_code == 1
    assert f"first bad record: review_decision {sat.decision_id}" in run.output


def test_a_record_without_an_anchor_or_without_its_rows_is_named(
    superuser: Connection, sat: Sat, keys: Keys
) -> None:
    forged = uuid.uuid4()
    superuser.exec_driver_sql(
        "INSERT INTO attempt_results SELECT tenant_id, %s, created_at, attempt_id, revision + 1, "
        "awarded, max_points, percent, passed, needs_grading, document, document_sha256 "
        "FROM attempt_results WHERE id = %s",
        (forged, sat.result_id),
    )
    superuser.exec_driver_sql("DELETE FROM review_decisions WHERE id = %s", (sat.decision_id,))
    report = verify(superuser, sat, keys)
    assert report.records is not None
    problems = "\n".join(report.records.problems)
    assert f"result {forged}: no result.recorded entry records it" in problems
    assert f"review_decision {sat.decision_id}: anchored by entry" in problems
    assert "its rows are gone" in problems


@pytest.mark.parametrize(
    ("change", "named"),
    [
        # "I was shown it in English": the language alone (the text unchanged)
        ("language = 'de'", "column language differs from what entry"),
        # "I never agreed to screen recording": the captures alone
        ("captures = '[\"camera\"]'", "column captures differs from what entry"),
        # the text rewritten, its stored hash left as it was
        ("text = text || ' (amended)'", "its text no longer hashes to its text_sha256"),
        # the text rewritten with a matching hash: the entry recorded another
        (
            "text = text || ' (amended)', "
            "text_sha256 = encode(sha256(convert_to(text || ' (amended)', 'UTF8')), 'hex')",
            "column text_sha256 differs from what entry",
        ),
        # a column no entry repeats: only the anchor can tell
        ("user_agent = 'forged'", "its content differs from what was recorded"),
    ],
)
def test_a_changed_consent_is_named(
    superuser: Connection, sat: Sat, keys: Keys, change: str, named: str
) -> None:
    superuser.exec_driver_sql(f"UPDATE consents SET {change} WHERE id = %s", (sat.consent_id,))
    bad = first_bad(verify(superuser, sat, keys))
    assert (bad["kind"], bad["id"]) == ("consent", str(sat.consent_id))
    assert named in bad["problem"]
    offline = verify_export(exported(superuser, sat, keys)).records
    assert offline is not None and offline.first_bad == bad


def test_a_deleted_consent_is_named(superuser: Connection, sat: Sat, keys: Keys) -> None:
    superuser.exec_driver_sql("DELETE FROM consents WHERE id = %s", (sat.consent_id,))
    bad = first_bad(verify(superuser, sat, keys))
    assert (bad["kind"], bad["id"]) == ("consent", str(sat.consent_id))
    assert "its rows are gone" in bad["problem"]


def test_an_edited_consent_in_an_export_fails_offline(
    database: Database, sat: Sat, keys: Keys, tmp_path: Path
) -> None:
    with database.unit_of_work(sat.tenant_id, Actor.operator()) as uow:
        data = json.loads(
            json.dumps(service.export(uow, keys.audit, sat.slug, SOURCES), default=str)
        )
    path = tmp_path / "export.json"
    path.write_text(json.dumps(data))
    run = CliRunner().invoke(cli, ["audit", "verify-export", str(path)])
    assert run.exit_code == 0, run.output
    (consent,) = [r for r in data["records"] if r["kind"] == "consent"]
    assert consent["id"] == str(sat.consent_id) and consent["recorded_by"] == "consent.given"
    consent["document"]["captures"] = []
    path.write_text(json.dumps(data))
    run = CliRunner().invoke(cli, ["audit", "verify-export", str(path)])
    assert run.exit_code == 1
    assert f"first bad record: consent {sat.consent_id}: column captures differs" in run.output


def test_the_app_role_cannot_change_the_answers_of_a_submitted_attempt(
    database: Database, sat: Sat
) -> None:
    statements = [
        "UPDATE attempt_answers SET response = '1' WHERE attempt_id = :a",
        "INSERT INTO attempt_answers (tenant_id, attempt_id, slot, response, seq) "
        "VALUES (:t, :a, 999, '1', 999)",
        "UPDATE attempts SET status = 'in_progress' WHERE id = :a",
    ]
    for stmt in statements:
        refused = pytest.raises(DBAPIError, match=r"immutable|stays submitted")
        with refused, database.unit_of_work(sat.tenant_id) as uow:
            uow.session.execute(text(stmt), {"a": sat.attempt_id, "t": sat.tenant_id})
    denied = pytest.raises(DBAPIError, match="permission denied")
    with denied, database.unit_of_work(sat.tenant_id) as uow:
        uow.session.execute(
            text("DELETE FROM attempt_answers WHERE attempt_id = :a"), {"a": sat.attempt_id}
        )


def test_the_app_role_cannot_change_or_remove_a_consent(database: Database, sat: Sat) -> None:
    for stmt in ("UPDATE consents SET language = 'de' WHERE id = :c",
                 "DELETE FROM consents WHERE id = :c"):  # fmt: skip
        refused = pytest.raises(DBAPIError, match=r"permission denied|append-only")
        with refused, database.unit_of_work(sat.tenant_id) as uow:
            uow.session.execute(text(stmt), {"c": sat.consent_id})


def test_a_consent_recorded_before_anchors_warns_and_is_still_held_to_its_entry(
    database: Database, settings: Settings, keys: Keys, urls: DatabaseUrls
) -> None:
    """A decline written as Invigil wrote it before consents were anchored
    (its entry without an anchor) is a warning, not a failure; its language
    changed afterwards is still named, from the entry's own fields."""
    tenant = make_tenant(database, settings)
    kit = kit_for(settings)
    invitation = make_invitation(database, tenant.id, kit).invitation
    with database.unit_of_work(tenant.id, Actor("candidate", "c-1")) as uow:
        declined = attempts._consent(
            uow,
            uow.get(type(invitation), invitation.id),
            None,
            "declined",
            "I do not agree to be recorded.",
            "en",
            attempts.Browser(address="test", user_agent="test"),
            ["camera"],
        )
        audit.record(
            uow,
            "consent.declined",
            declined,
            {
                "invitation_id": invitation.id,
                "text_sha256": declined.text_sha256,
                "language": declined.language,
                "captures": ["camera"],
            },
        )
        consent_id = declined.id
    with database.unit_of_work(tenant.id, Actor.system()) as uow:
        checkpoints.seal(uow, keys.audit)
    with database.unit_of_work(tenant.id, Actor.operator()) as uow:
        report = service.verify_tenant(uow, keys.audit, SOURCES)
        data = json.loads(
            json.dumps(service.export(uow, keys.audit, tenant.slug, SOURCES), default=str)
        )
    assert report.ok and report.records is not None, report.problems
    assert report.records.unanchored == {"consent": 1}
    assert report.records.warnings == [
        f"consent {consent_id}: not anchored (recorded before consents were anchored)"
    ]
    offline = verify_export(data)
    assert offline.ok and offline.records is not None
    assert offline.records.unanchored == {"consent": 1}
    sat = Sat(tenant.id, tenant.slug, uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), consent_id)
    engine = create_engine(urls.admin.set(database=urls.owner.database), poolclass=NullPool)
    with engine.connect() as conn:
        tx = conn.begin()
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.exec_driver_sql("UPDATE consents SET language = 'de' WHERE id = %s", (consent_id,))
        bad = first_bad(verify(conn, sat, keys))
        tx.rollback()
    engine.dispose()
    assert bad == {
        "kind": "consent",
        "id": str(consent_id),
        "problem": f"column language differs from what entry {_seq_of(database, tenant.id)} recorded",
    }


def _seq_of(database: Database, tenant_id: uuid.UUID) -> int:
    with database.unit_of_work(tenant_id, Actor.operator()) as uow:
        seq = uow.session.scalar(
            text("SELECT seq FROM audit_events WHERE action = 'consent.declined'")
        )
    assert isinstance(seq, int)
    return seq


def test_neither_can_the_owner(owner_conn: Connection, sat: Sat) -> None:
    owner_conn.execute(
        text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(sat.tenant_id)}
    )
    with pytest.raises(DBAPIError, match="immutable"):
        owner_conn.execute(
            text("DELETE FROM attempt_answers WHERE attempt_id = :a"), {"a": sat.attempt_id}
        )


# --- the comparison itself ----------------------------------------------------


def _record(kind: str, ident: str, sha: str) -> Record:
    return Record(kind, ident, "thing", "thing.recorded", sha)


def _recording(payload: dict[str, Any] | None = None) -> Recording:
    return Recording(7, payload or {})


def test_records_from_before_anchors_warn_and_records_never_recorded_fail() -> None:
    old, new = _record("result", "a", "x"), _record("result", "b", "y")
    report = check_records(
        ["result"], [], lambda _: [old, new], lambda r: _recording() if r.id == "a" else None
    )
    assert report.unanchored == {"result": 1} and "recorded before v0015" in report.warnings[0]
    assert not report.ok and report.first_bad is not None and report.first_bad["id"] == "b"


def test_a_record_anchored_once_must_match_every_anchor_a_stream_its_latest() -> None:
    sha = document_sha256({"n": 1})
    twice = [Anchor("result", "a", sha, None, 3), Anchor("result", "a", "f" * 64, None, 9)]
    report = check_records(["result"], twice, lambda _: [_record("result", "a", sha)], _none)
    assert report.first_bad is not None and "anchored twice" in report.first_bad["problem"]
    grown = [Anchor("events", "a", "0" * 64, 2, 3), Anchor("events", "a", sha, 3, 9)]
    report = check_records(["events"], grown, lambda _: [_record("events", "a", sha)], _none)
    assert report.ok and report.anchored == 1


def test_kinds_are_merged_in_order_whatever_the_log_holds() -> None:
    anchors = [
        Anchor("answers", "1", "a1", None, 0),
        Anchor("unknown", "1", "u", None, 1),
        Anchor("zeta", "1", "z1", None, 2),
    ]
    rows = {"answers": [_record("answers", "1", "a1")], "zeta": [_record("zeta", "1", "z1")]}
    report = check_records(["zeta", "answers", "mid"], anchors, lambda k: rows.get(k, []), _none)
    assert report.ok and report.anchored == 2


def _none(_: Record) -> None:
    return None


def _consent(text: str, language: str) -> Record:
    document = {
        "text": text,
        "text_sha256": hashlib.sha256(b"I agree").hexdigest(),
        "language": language,
    }
    return Record(
        "consent",
        "c",
        "consent",
        "consent.given",
        document_sha256(document),
        flaw=digest_flaw("consent", document),
        witnessed=witnessed("consent", document),
    )


def test_a_consent_from_before_anchors_warns_unless_its_entry_says_otherwise() -> None:
    """No anchor to compare with, but its entry recorded the text's hash and
    (since 0021) its language: those still hold the row to what was shown."""
    entry = _recording({"text_sha256": hashlib.sha256(b"I agree").hexdigest(), "language": "en"})

    def check(record: Record, recording: Recording) -> Any:
        return check_records(["consent"], [], lambda _: [record], lambda _: recording)

    report = check(_consent("I agree", "en"), entry)
    assert report.ok and report.unanchored == {"consent": 1}
    assert report.warnings == ["consent c: not anchored (recorded before consents were anchored)"]
    # an entry older than the language column states no language: not checked
    older = _recording({"text_sha256": entry.payload["text_sha256"]})
    assert check(_consent("I agree", "de"), older).ok
    for record, named in [
        (_consent("I agreed to nothing", "en"), "its text no longer hashes to its text_sha256"),
        (_consent("I agree", "de"), "column language differs from what entry 7 recorded"),
    ]:
        report = check(record, entry)
        assert report.first_bad == {"kind": "consent", "id": "c", "problem": named}
