"""The builder of an attempt's result: medians against a hand-computed
cohort, every version with its hash, inclusion proofs that verify, and the
identity rule."""

from __future__ import annotations

import copy
import hashlib
import statistics
import uuid

from fastapi import FastAPI
from sqlalchemy import select

from invigil.audit import checkpoints
from invigil.audit.merkle import MerkleTree, verify_inclusion
from invigil.audit.models import AuditEvent
from invigil.audit.records import document_sha256
from invigil.delivery import results
from invigil.delivery.models import Attempt, AttemptResult
from invigil.errors import NotFound
from invigil.results import attempt_result
from invigil.results.pseudonyms import code_of
from invigil.security.keys import Keys
from invigil.settings import Settings
from tests.conftest import BoundDatabase
from tests.content.factories import make_bank, make_question
from tests.delivery.factories import published_exam
from tests.results.sitting import sit

# Question 1 took 10, 20, 30 and 100 s; every other question 1 s.
FIRST = [10_000, 20_000, 30_000, 100_000]


def seal(db: BoundDatabase, settings: Settings, tenant_id: uuid.UUID) -> None:
    with db.unit_of_work(tenant_id) as uow:
        checkpoints.seal(uow, Keys(settings.keys_dir).audit)


def test_times_are_set_against_the_cohorts_median(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    c = sit(db, app, settings, FIRST, unfinished=1)
    with db.unit_of_work(c.tenant_id) as uow:
        view = attempt_result.build(uow, c.attempts[0], with_identity=True)
    assert view.cohort == 4  # the unfinished attempt is not in it
    first = view.questions[0].time
    # percentile_cont interpolates: the median of 10, 20, 30, 100 s is 25 s
    assert (first.time_ms, first.median_ms, first.cohort) == (10_000, 25_000, 4)
    assert first.ratio == 0.4
    assert {q.time.median_ms for q in view.questions[1:]} == {1000}
    # one section: each attempt's total is question 1 plus 7 x 1 s
    (section,) = view.sections
    assert section.label == "All types" and section.cohort == 4
    assert section.time_ms == 17_000 and section.median_ms == 32_000  # (27 + 37) / 2 s


def test_a_pool_question_has_the_cohort_of_the_attempts_that_drew_it(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    def exam(tenant_id: uuid.UUID) -> uuid.UUID:
        fixed, pooled = make_bank(db, tenant_id), make_bank(db, tenant_id)
        first = make_question(db, tenant_id, fixed)
        for _ in range(3):
            make_question(db, tenant_id, pooled)
        sections = [
            {"kind": "fixed", "title": "Fixed", "question_ids": [str(first)]},
            {"kind": "pool", "title": "Drawn", "bank_id": str(pooled), "count": 1},
        ]
        return published_exam(
            db,
            tenant_id,
            sections=sections,
            settings={"shuffle_questions": False, "proctoring_preset": "practice"},
        )

    # attempt n spends (n + 1) s on the fixed question and (n + 1) x 10 s on the drawn one
    c = sit(
        db, app, settings, [0] * 6, exam_of=exam, answers=[0, 0],
        ms=lambda n, i: (n + 1) * (1000 if i == 0 else 10_000),
    )  # fmt: skip
    drawn: dict[str, list[int]] = {}
    with db.unit_of_work(c.tenant_id) as uow:
        for n, aid in enumerate(c.attempts):
            result = results.latest_result(uow, aid)
            assert result is not None
            drawn.setdefault(result.document["questions"][1]["question_id"], []).append(
                (n + 1) * 10_000
            )
        views = [attempt_result.build(uow, aid, with_identity=False) for aid in c.attempts]
    assert len(drawn) > 1, "every attempt drew the same question: the test says nothing"
    for view in views:
        fixed, pooled = view.questions
        assert (fixed.time.cohort, fixed.time.median_ms) == (6, 3500)
        times = drawn[pooled.question_id]
        assert pooled.time.cohort == len(times) < 6
        assert pooled.time.median_ms == statistics.median(times)
        assert [(s.label, s.cohort) for s in view.sections] == [("Fixed", 6), ("Drawn", 6)]
        assert view.sections[1].median_ms == 35_000


def test_every_version_has_its_hash_and_a_proof_that_verifies(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    c = sit(db, app, settings, [5000])
    aid = c.attempts[0]
    with db.unit_of_work(c.tenant_id) as uow:
        unsealed = attempt_result.build(uow, aid, with_identity=False)
    assert unsealed.latest.inclusion is not None
    assert unsealed.latest.inclusion.reason == attempt_result.NOT_SEALED
    assert not unsealed.latest.inclusion.verified

    # A person marks the essay: revision 2, a new document, a new hash.
    with db.unit_of_work(c.tenant_id) as uow:
        attempt = uow.get(Attempt, aid)
        first = results.latest_result(uow, aid)
        assert first is not None
        document = copy.deepcopy(first.document) | {"revision": 2, "scored_by": "grader"}
        essay = next(q for q in document["questions"] if q["needs_grading"])
        essay |= {"needs_grading": False, "awarded": "3.00"}
        document |= {"needs_grading": False, "pending_questions": 0}
        results._store(uow, attempt, 2, document)
    seal(db, settings, c.tenant_id)

    with db.unit_of_work(c.tenant_id) as uow:
        view = attempt_result.build(uow, aid, with_identity=False)
        rows = uow.scalars(select(AttemptResult).order_by(AttemptResult.revision))
        leaves = list(uow.session.scalars(select(AuditEvent.leaf_hash).order_by(AuditEvent.seq)))
    assert [v.revision for v in view.versions] == [1, 2]
    assert [v.sha256 for v in view.versions] == [r.document_sha256 for r in rows]
    assert [v.sha256 for v in view.versions] == [document_sha256(r.document) for r in rows]
    assert all(v.hash_matches for v in view.versions)
    assert view.versions[0].scored_by == "automatic" and view.versions[1].scored_by == "grader"
    # the marks section: the essay, open in revision 1, marked in revision 2
    assert [(m.number, m.awarded, m.revision) for m in view.marks.given] == [(6, "3.00", 2)]
    assert view.marks.waiting == []

    for version in view.versions:
        inc = version.inclusion
        assert inc is not None and inc.verified and inc.anchored_sha256 == version.sha256
        assert inc.tree_size == len(leaves)
        # the root, recomputed from the proof one step at a time ...
        running = bytes.fromhex(inc.leaf_hash)
        for step in inc.steps:
            sibling = bytes.fromhex(step.sibling)
            pair = sibling + running if step.side == "left" else running + sibling
            running = hashlib.sha256(b"\x01" + pair).digest()
            assert running.hex() == step.result
        assert running.hex() == inc.root_hash
        # ... is the root of the whole log, and a changed proof fails
        assert MerkleTree(leaves[: inc.tree_size]).root().hex() == inc.root_hash
        proof = [bytes.fromhex(h) for h in inc.proof]
        root = bytes.fromhex(inc.root_hash)
        assert verify_inclusion(bytes.fromhex(inc.leaf_hash), inc.seq, inc.tree_size, proof, root)
        proof[0] = bytes(32)
        assert not verify_inclusion(
            bytes.fromhex(inc.leaf_hash), inc.seq, inc.tree_size, proof, root
        )


def test_names_only_for_candidate_view_else_a_stable_pseudonym(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    c = sit(db, app, settings, [5000, 6000])
    with db.unit_of_work(c.tenant_id) as uow:
        named = attempt_result.build(uow, c.attempts[0], with_identity=True)
        blind = attempt_result.build(uow, c.attempts[0], with_identity=False)
        again = attempt_result.build(uow, c.attempts[0], with_identity=False)
        other = attempt_result.build(uow, c.attempts[1], with_identity=False)
    assert named.candidate.name == c.names[0] and named.candidate.email
    assert blind.candidate.name is None and blind.candidate.email is None
    code = code_of(c.attempts[0])
    assert blind.candidate.words() == f"Candidate {code}" == again.candidate.words()
    assert blind.candidate.words("de") == f"Teilnehmende Person {code}"
    assert other.candidate.words() != blind.candidate.words()


def test_an_attempt_without_a_result_or_of_another_tenant_is_not_found(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    c = sit(db, app, settings, [5000], unfinished=1)
    theirs = sit(db, app, settings, [5000])
    with db.unit_of_work(c.tenant_id) as uow:
        unfinished = uow.scalar(select(Attempt.id).where(Attempt.status != "submitted"))
        assert unfinished is not None
        for missing in (unfinished, theirs.attempts[0], uuid.uuid4()):
            try:
                attempt_result.build(uow, missing, with_identity=True)
            except NotFound:
                continue
            raise AssertionError(f"{missing} was found")
