"""Built-in staff roles (the identity issue maps them to permissions)."""

from __future__ import annotations

BUILTIN_ROLES: tuple[str, ...] = (
    "tenant_admin",
    "exam_author",
    "question_manager",
    "proctor_reviewer",
    "grader",
    "results_viewer",
    "shortlister",
    "certification_manager",
    "billing_admin",
    "auditor",
)
