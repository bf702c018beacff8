"""What the live console shows of each attempt: one statement for any
number of attempts (a tile each), read under the tenant's binding.

A tile says where the attempt stands now: connection (the server's own
decision: a silence is open since the browser was last heard), the clock
(deadline, pause, time granted), progress, the latest webcam snapshot and
the face count the server's re-check found, the policy's warnings and
flags, changes of address or browser, the proctor's messages and whether
they were read, a room check. Times are ISO 8601; the console counts
down from ``deadline`` against ``server_time``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from invigil.db.uow import UnitOfWork
from invigil.proctoring.live import WATCHABLE, watcher

# The most a console shows at once (the in-progress attempts of a tenant, or
# of one exam); more than this is said, and narrowed by choosing an exam.
MAX_TILES = 2000

_TILES = text(
    """
    SELECT a.id, a.exam_id, e.title, a.candidate_id, c.name, c.email, a.status,
           a.submit_reason, a.started_at, a.deadline, a.paused_at, a.added_seconds,
           a.last_seen_at, a.silent_seq IS NOT NULL AS offline, a.integrity,
           jsonb_array_length(a.paper) AS questions, a.submitted_at,
           (SELECT count(*) FROM attempt_answers x
             WHERE x.tenant_id = a.tenant_id AND x.attempt_id = a.id
               AND x.response IS NOT NULL AND x.response <> 'null'::jsonb) AS answered,
           s.id AS snapshot_id, s.taken_at, s.server_faces, s.client_faces, s.server_status,
           (SELECT count(*) FROM proctoring_actions p
             WHERE p.tenant_id = a.tenant_id AND p.attempt_id = a.id
               AND p.action IN ('flag', 'provisional_fail', 'auto_submit')) AS flags,
           (SELECT count(*) FROM proctoring_actions p
             WHERE p.tenant_id = a.tenant_id AND p.attempt_id = a.id
               AND p.action = 'warn') AS warnings,
           (SELECT coalesce(jsonb_agg(q ORDER BY q.at DESC), '[]'::jsonb) FROM (
              SELECT p.id, p.rule_id AS rule, p.kind, p.severity, p.action, p.message,
                     p.created_at AS at
              FROM proctoring_actions p
              WHERE p.tenant_id = a.tenant_id AND p.attempt_id = a.id
                AND p.action <> 'log'
              ORDER BY p.created_at DESC LIMIT 5) AS q) AS actions,
           (SELECT count(*) FROM attempt_client_changes k
             WHERE k.tenant_id = a.tenant_id AND k.attempt_id = a.id) AS changes,
           (SELECT jsonb_build_object('address', k.address, 'browser', k.user_agent,
                                      'at', k.created_at)
              FROM attempt_client_changes k
             WHERE k.tenant_id = a.tenant_id AND k.attempt_id = a.id
             ORDER BY k.created_at DESC LIMIT 1) AS latest_change,
           (SELECT coalesce(jsonb_agg(m ORDER BY m.sent_at DESC), '[]'::jsonb) FROM (
              SELECT v.id, v.text, v.created_at AS sent_at, r.created_at AS acknowledged_at
              FROM live_interventions v
              LEFT JOIN live_interventions r
                ON r.tenant_id = v.tenant_id AND r.refers_to = v.id AND r.kind = 'ack'
              WHERE v.tenant_id = a.tenant_id AND v.attempt_id = a.id AND v.kind = 'message'
              ORDER BY v.created_at DESC LIMIT 3) AS m) AS messages,
           (SELECT jsonb_build_object('id', v.id, 'requested_at', v.created_at,
                                      'reason', v.text, 'clip_at', r.created_at)
              FROM live_interventions v
              LEFT JOIN live_interventions r
                ON r.tenant_id = v.tenant_id AND r.refers_to = v.id AND r.kind = 'room_clip'
             WHERE v.tenant_id = a.tenant_id AND v.attempt_id = a.id AND v.kind = 'room_check'
             ORDER BY v.created_at DESC LIMIT 1) AS room_check,
           (SELECT coalesce(k.captures @> '["camera"]'::jsonb, true) FROM consents k
             WHERE k.tenant_id = a.tenant_id AND k.attempt_id = a.id AND k.decision = 'given'
             ORDER BY k.created_at DESC LIMIT 1) AS camera
    FROM attempts AS a
    JOIN candidates AS c ON c.tenant_id = a.tenant_id AND c.id = a.candidate_id
    JOIN exams AS e ON e.tenant_id = a.tenant_id AND e.id = a.exam_id
    LEFT JOIN LATERAL (
        SELECT s.id, s.taken_at, s.server_faces, s.client_faces, s.server_status
        FROM proctoring_snapshots s
        WHERE s.tenant_id = a.tenant_id AND s.attempt_id = a.id
        ORDER BY s.taken_at DESC LIMIT 1) AS s ON true
    WHERE (CAST(:exam AS uuid) IS NULL OR a.exam_id = CAST(:exam AS uuid))
      AND {watchable}
      AND (CAST(:ids AS uuid[]) IS NULL OR a.id = ANY(CAST(:ids AS uuid[])))
      AND (a.status = 'in_progress'
           OR (CAST(:ids AS uuid[]) IS NOT NULL AND a.status = 'submitted')
           OR (CAST(:since AS timestamptz) IS NOT NULL
               AND a.submitted_at >= CAST(:since AS timestamptz)))
    ORDER BY a.started_at, a.id
    LIMIT :limit
    """.format(watchable=WATCHABLE.format(tenant="a.tenant_id", exam="a.exam_id"))
)


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at is not None else None


def tiles(
    uow: UnitOfWork,
    *,
    exam_id: uuid.UUID | None = None,
    attempt_ids: Sequence[uuid.UUID] | None = None,
    ended_since: datetime | None = None,
) -> list[dict[str, Any]]:
    """The tiles of the attempts in progress (of one exam, or these), with
    those that ended since ``ended_since``; the named ``attempt_ids`` also
    when they have ended. Only of the exams the actor may watch."""
    viewer = watcher(uow)
    params = {
        "viewer": str(viewer) if viewer else None,
        "exam": str(exam_id) if exam_id else None,
        "ids": [str(i) for i in attempt_ids] if attempt_ids is not None else None,
        "since": ended_since,
        "limit": MAX_TILES,
    }
    return [_tile(row._mapping) for row in uow.session.execute(_TILES, params)]


def _tile(r: Any) -> dict[str, Any]:
    snapshot = None
    if r["snapshot_id"] is not None:
        snapshot = {
            "id": str(r["snapshot_id"]),
            "taken_at": _iso(r["taken_at"]),
            "faces": r["server_faces"] if r["server_status"] != "pending" else None,
            "browser_faces": r["client_faces"],
            "status": r["server_status"],
            "url": f"/proctoring/live/snapshots/{r['snapshot_id']}",
        }
    attempt_id = str(r["id"])
    return {
        "id": attempt_id,
        "exam": {"id": str(r["exam_id"]), "title": r["title"]},
        "candidate": {"id": str(r["candidate_id"]), "name": r["name"], "email": r["email"]},
        "status": r["status"],
        "submit_reason": r["submit_reason"],
        "submitted_at": _iso(r["submitted_at"]),
        "started_at": _iso(r["started_at"]),
        "deadline": _iso(r["deadline"]),
        "paused_at": _iso(r["paused_at"]),
        "added_seconds": r["added_seconds"],
        "last_seen_at": _iso(r["last_seen_at"]),
        "offline": bool(r["offline"]) and r["status"] == "in_progress",
        "offline_since": _iso(r["last_seen_at"]) if r["offline"] else None,
        "answered": r["answered"],
        "questions": r["questions"],
        "integrity": r["integrity"],
        "snapshot": snapshot,
        "flags": r["flags"],
        "warnings": r["warnings"],
        "actions": [{**x, "id": str(x["id"])} for x in r["actions"]],
        "clients": {"changes": r["changes"], "latest": r["latest_change"]},
        "messages": r["messages"],
        "room_check": r["room_check"],
        # Whether the candidate consented to the camera: a room check may be asked.
        "camera": bool(r["camera"]),
        "url": f"/delivery/attempts/{attempt_id}",
        "review_url": f"/proctoring/reviews/{attempt_id}",
    }
