"""The daily recertification pass over 100,000 certificates (target: < 30 s).

Ten programs (two of them with a recertification exam); 100,000 holders and
certificates made by ``generate_series`` in a few statements, spread the way
a tenant's certificates are on an ordinary day: most expire more than 100
days from now (nothing due), a few percent within the next 97 days (the
nearest reminder due, and the recertification invitation for those inside
the window), 4 % expired long ago with their expiry and escalation already
taken (nothing due: the pass must not go through them one by one), and 1 %
past their expiry but still issued (the expiry due, and for the ones past
the 30-day grace the escalation to a group's two managers).

Then :func:`invigil.certification.recertification.daily_pass` once (every
due step taken, mails in the outbox, invitations through the guest-link
flow, audited), and once more at the same moment (idempotent: nothing to
do, every step already has its notice). The baseline is a plain
``SELECT count(*)`` over the same certificates in the same run.

Run alone: ``python -m benchmarks.recertification`` (fresh database).
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import text

from invigil.content import banks, exams, questions
from invigil.content.schemas import ExamIn, QuestionIn
from invigil.db.engine import Database
from invigil.db.urls import DatabaseUrls
from invigil.settings import Settings

CERTIFICATES = 100_000
PROGRAMS = 10

LABELS = {
    "recert_seed_s": (f"Seeding {CERTIFICATES:,} holders and certificates (generate_series)", "s"),
    "recert_count_ms": ("Baseline: SELECT count(*) over the same certificates", "ms"),
    "recert_pass_s": (
        f"Daily recertification pass, {CERTIFICATES:,} certificates, first run (target < 30)",
        "s",
    ),
    "recert_steps": ("Steps the first run took (reminders, invitations, expiries, lapses)", ""),
    "recert_steps_per_s": ("Steps per second in the first run", "steps/s"),
    "recert_again_s": ("The same pass again at the same moment (nothing to do)", "s"),
    "recert_load_1min": ("Machine load average (1 min) when the first run ended", ""),
    "recert_page_ms": (
        "The staff page's queries: steps due in the next 30 days and the 50 latest taken",
        "ms",
    ),
}


def make_exam(db: Database, tenant_id: uuid.UUID) -> uuid.UUID:
    """A published one-question exam: what the programs and invitations name."""
    with db.unit_of_work(tenant_id) as uow:
        bank = banks.create_bank(uow, name="Recertification bench").id
        made = questions.create_question(
            uow,
            bank,
            QuestionIn.model_validate(
                {
                    "category": "Safety",
                    "points": 1,
                    "body": {
                        "type": "single_choice",
                        "prompt": "Which sign means stop?",
                        "choices": ["Red octagon", "Green circle"],
                        "correct": 0,
                    },
                }
            ),
        )
        exam = exams.create_exam(
            uow,
            ExamIn.model_validate(
                {
                    "slug": "recert-bench",
                    "title": "Recertification bench",
                    "sections": [{"kind": "fixed", "question_ids": [str(made.question.id)]}],
                }
            ),
        )
        exams.publish_exam(uow, exam.id)
        return exam.id


def make_programs(db: Database, tenant_id: uuid.UUID, exam_id: uuid.UUID) -> list[uuid.UUID]:
    """The programs' first versions (two name the recertification exam)."""
    from invigil.certification import programs
    from invigil.certification.definition import parse

    versions = []
    with db.unit_of_work(tenant_id) as uow:
        for i in range(PROGRAMS):
            definition = {
                "exam_ids": [str(exam_id)],
                "validity_months": 24,
                "recert_window_days": 60,
                "grace_days": 30,
                "reminder_days": [90, 30, 7],
            }
            if i < 2:
                definition["recert_exam_id"] = str(exam_id)
            _, version = programs.create(uow, f"Program {i + 1}", parse(definition))
            versions.append(version.id)
    return versions


# i % 100: 0-89 expire in 100-700 days; 90-94 within 0-97 days; 95-98 expired
# 40-340 days ago (expiry and escalation taken); 99 past expiry, still issued.
SEED = """
WITH v AS (
    SELECT array_agg(id ORDER BY id) AS ids, array_agg(program_id ORDER BY id) AS programs
      FROM cert_program_versions
),
people AS (
    INSERT INTO candidates (tenant_id, id, name, email)
    SELECT :tenant, gen_random_uuid(), 'Holder ' || i, 'holder' || i || '@bench.test'
      FROM generate_series(1, :n) AS i
    RETURNING id, name
),
numbered AS (
    SELECT id, (split_part(name, ' ', 2))::int AS i FROM people
),
dated AS (
    SELECT p.id AS holder, p.i,
           CASE WHEN p.i % 100 < 90 THEN :now + make_interval(days => 100 + (p.i * 7919) % 600)
                WHEN p.i % 100 < 95 THEN :now + make_interval(days => p.i % 98, hours => 1)
                WHEN p.i % 100 < 99 THEN :now - make_interval(days => 40 + p.i % 300)
                ELSE :now - make_interval(days => p.i % 60, hours => 1) END AS expires_at
      FROM numbered p
)
INSERT INTO certificates (tenant_id, id, number, program_id, program_version_id, holder_id,
                          issued_at, expires_at, basis, status_index, state, state_seq,
                          state_changed_at)
SELECT :tenant, gen_random_uuid(), 'C-2026-' || lpad(d.i::text, 6, '0'),
       v.programs[1 + (d.i / 100) % :programs], v.ids[1 + (d.i / 100) % :programs], d.holder,
       d.expires_at - interval '24 months', d.expires_at, '[]'::jsonb, d.i - 1,
       CASE WHEN d.i % 100 BETWEEN 95 AND 98 THEN 'expired' ELSE 'issued' END,
       CASE WHEN d.i % 100 BETWEEN 95 AND 98 THEN 2 ELSE 1 END,
       CASE WHEN d.i % 100 BETWEEN 95 AND 98 THEN d.expires_at ELSE d.expires_at
            - interval '24 months' END
  FROM dated d CROSS JOIN v
"""

NOTICES = """
INSERT INTO cert_notices (tenant_id, id, certificate_id, kind, step, due_at, done_at)
SELECT c.tenant_id, gen_random_uuid(), c.id, s.step, s.step,
       c.expires_at + CASE s.step WHEN 'escalation' THEN interval '30 days' ELSE interval '0' END,
       c.expires_at + interval '31 days'
  FROM certificates c CROSS JOIN (VALUES ('expiry'), ('escalation')) AS s(step)
 WHERE c.state = 'expired'
"""

GROUP = """
WITH g AS (
    INSERT INTO cert_groups (tenant_id, id, name) VALUES (:tenant, gen_random_uuid(), 'Site')
    RETURNING id
),
r AS (
    INSERT INTO cert_group_requirements (tenant_id, group_id, program_id)
    SELECT :tenant, g.id, p.id FROM g CROSS JOIN cert_programs p
),
m AS (
    INSERT INTO cert_group_managers (tenant_id, group_id, user_id)
    SELECT :tenant, g.id, u FROM g CROSS JOIN unnest(CAST(:managers AS uuid[])) AS u
)
INSERT INTO cert_group_members (tenant_id, group_id, candidate_id)
SELECT :tenant, g.id, c.holder_id FROM g CROSS JOIN certificates c
 WHERE c.state = 'issued' AND c.expires_at < :now
"""


def seed(db: Database, settings: Settings, tenant_id: uuid.UUID, now: datetime) -> None:
    from invigil.identity import service as identity

    exam_id = make_exam(db, tenant_id)
    make_programs(db, tenant_id, exam_id)
    with db.unit_of_work(tenant_id) as uow:
        managers = [
            identity.create_user(uow, email=f"manager{i}@bench.test", roles=["auditor"]).id
            for i in range(2)
        ]
    with db.unit_of_work(tenant_id) as uow:
        uow.session.execute(text("SET LOCAL statement_timeout = 0"))
        params = {"tenant": tenant_id, "n": CERTIFICATES, "programs": PROGRAMS, "now": now}
        uow.session.execute(text(SEED), params)
        uow.session.execute(text(NOTICES))
        uow.session.execute(text(GROUP), {"tenant": tenant_id, "managers": managers, "now": now})


def analyze(urls: DatabaseUrls) -> None:
    """Fresh statistics, as autovacuum would gather after a bulk load."""
    import psycopg

    from invigil.db.urls import libpq

    with psycopg.connect(libpq(urls.owner), autocommit=True) as conn:
        for table in ("candidates", "certificates", "cert_notices", "cert_group_members"):
            conn.execute(f"ANALYZE {table}")


def figures(
    db: Database, urls: DatabaseUrls, settings: Settings, tenant_id: uuid.UUID
) -> dict[str, float]:
    from invigil.certification.recertification import daily_pass
    from invigil.delivery.invitations import Kit

    now = datetime.now(UTC)
    began = time.perf_counter()
    seed(db, settings, tenant_id, now)
    analyze(urls)
    seeded = time.perf_counter() - began
    with db.unit_of_work(tenant_id) as uow:
        began = time.perf_counter()
        total = uow.session.execute(text("SELECT count(*) FROM certificates")).scalar_one()
        count_ms = (time.perf_counter() - began) * 1000
    assert total == CERTIFICATES
    kit = Kit.from_settings(settings)
    began = time.perf_counter()
    first = daily_pass(db, tenant_id, kit, now=now)
    first_s = time.perf_counter() - began
    load = os.getloadavg()[0]
    began = time.perf_counter()
    again = daily_pass(db, tenant_id, kit, now=now)
    again_s = time.perf_counter() - began
    from invigil.certification import recertification

    with db.unit_of_work(tenant_id) as uow:
        began = time.perf_counter()
        upcoming = recertification.upcoming(uow, now=now)
        recent = recertification.recent(uow)
        page_ms = (time.perf_counter() - began) * 1000
    assert upcoming and len(recent) == 50
    steps = sum(first.steps.values())
    assert first.failed == 0 and steps > 0, first
    assert sum(again.steps.values()) == 0 and again.failed == 0, again
    print("recertification steps:", dict(first.steps))
    return {
        "recert_seed_s": seeded,
        "recert_count_ms": count_ms,
        "recert_pass_s": first_s,
        "recert_steps": float(steps),
        "recert_steps_per_s": steps / first_s,
        "recert_again_s": again_s,
        "recert_load_1min": load,
        "recert_page_ms": page_ms,
    }


def section(figures: dict[str, float]) -> list[str]:
    if "recert_pass_s" not in figures:
        return []
    lines = [
        "",
        "## Recertification",
        "",
        f"{CERTIFICATES:,} certificates of {PROGRAMS} programs (benchmarks/recertification.py):",
        "90 % expire in 100-700 days (nothing due), 5 % within 97 days (the nearest",
        "reminder, and for the two programs with a recertification exam the invitation",
        "through the guest-link flow), 4 % expired long ago with every step taken, 1 % past",
        "their expiry but still issued (expiry, and past the grace period the escalation to",
        "a group's two managers and the holder's final notice). Every step writes its",
        "mail(s), its notice and its audit entry; one transaction per 200 certificates.",
        "The second run at the same moment finds every step taken and sends nothing.",
        "",
        "| scenario | figure | target |",
        "|---|---:|---:|",
    ]
    for key, target in (
        ("recert_seed_s", ""),
        ("recert_count_ms", ""),
        ("recert_pass_s", "< 30 s"),
        ("recert_steps", ""),
        ("recert_steps_per_s", ""),
        ("recert_again_s", ""),
        ("recert_load_1min", ""),
        ("recert_page_ms", ""),
    ):
        label, unit = LABELS[key]
        lines.append(f"| {label} | {figures[key]:,.1f} {unit} | {target} |".replace("  |", " |"))
    return lines


def main() -> None:
    from benchmarks import standalone

    standalone.run("bench-recertification", "Bench recertification", figures, section)


if __name__ == "__main__":
    main()
