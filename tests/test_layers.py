"""The hooks through which lower layers reach higher ones (docs/adr/0019-layers.md):
installed when the domains are imported, and refusing when nothing is provided.
The import rules themselves are checked by `make lint` (lint-imports)."""

from __future__ import annotations

import ast
import importlib
import uuid
from pathlib import Path

import pytest

import invigil.app  # noqa: F401 - the shell imports every domain, as at start-up
from invigil.delivery import proctor
from invigil.evidence import service as evidence
from invigil.identity import auth
from invigil.identity.service import ensure_builtin_roles
from invigil.jobs import queue
from invigil.security import sessions
from invigil.tenants import service as tenants


def test_the_domains_install_their_hooks_when_imported() -> None:
    assert sessions._provided.active is auth.active_session
    assert ensure_builtin_roles in tenants._created
    assert evidence._shared[evidence.ATTEMPT].owner_type == evidence.CANDIDATE
    assert type(proctor.proctor()).__name__ == "Proctoring"
    from invigil.audit import anchored
    from invigil.retention import hooks as retention

    assert retention.purged in anchored._purged
    assert retention.deleted in evidence._deleted


def test_the_worker_runs_the_same_tasks_as_before_they_moved_to_their_domains() -> None:
    assert sorted(queue.tasks().tasks) == [
        "audit.build_bundle",
        "audit.purge_bundles",
        "audit.seal",
        "audit.verify",
        "audit.verify_tenant",
        "certification.evaluate",
        "certification.recertify",
        "delivery.close_due",
        "delivery.send_mail",
        "jobs.prune_finished",
        "jobs.retry_stalled",
        "ledger.storage",
        "lti.post_score",
        "lti.sync_roster",
        "proctoring.finalise_reviews",
        "proctoring.recheck_snapshot",
        "results.mail_release",
        "retention.build_export",
        "retention.delete_objects",
        "retention.portal_request",
        "retention.purge",
        "webhooks.deliver",
    ]


SRC = Path(__file__).resolve().parents[1] / "src"


def _deferred_names() -> list[tuple[str, str]]:
    """(where, task name) of every ``uow.defer(...)`` in the code: a literal, or
    the expression (a constant, ``module.TASK``) evaluated in its module."""
    found = []
    for path in sorted((SRC / "invigil").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = [
            node for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "defer" and node.args
            and ast.unparse(node.func.value).endswith("uow")  # UnitOfWork.defer
        ]  # fmt: skip
        if not calls:
            continue
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        module = importlib.import_module(name.removesuffix(".__init__"))
        for call in calls:
            where = f"{name}:{call.lineno}"
            found.append((where, eval(ast.unparse(call.args[0]), vars(module))))
    return found


def test_every_deferred_task_is_one_the_worker_runs() -> None:
    """A job deferred under a name the worker does not know fails with "Task
    was not found" only when it runs: the app adds the tasks under the
    ``invigil`` namespace, so a deferral must name ``invigil:<task>``."""
    runs = {f"invigil:{name}" for name in queue.tasks().tasks}
    deferred = _deferred_names()
    assert len(deferred) >= 10
    unknown = [(where, task) for where, task in deferred if task not in runs]
    assert unknown == []


def test_results_hears_submissions_and_review_outcomes() -> None:
    from invigil.delivery import submission
    from invigil.proctoring import outcomes
    from invigil.results import release

    assert submission._listeners["results.release"] is release.on_submitted
    assert outcomes._listeners["results.release"] is release.on_review


def test_no_session_check_provided_lets_no_one_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sessions, "_provided", sessions._Provided())
    with pytest.raises(RuntimeError, match="no session check"):
        sessions.active(None, uuid.uuid4(), uuid.uuid4())  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="no session check"):
        sessions.web_viewer(None, None, "ws.secret")  # type: ignore[arg-type]


def test_no_proctor_registered_is_an_error_not_an_unproctored_exam(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(proctor, "_registered", [])
    with pytest.raises(RuntimeError, match="no proctor"):
        proctor.proctor()
