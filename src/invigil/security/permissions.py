"""Permissions are data: one enum, named ``resource:action``, alphabetised.

Every route declares exactly one (``requires(Permission.X)``); roles are
sets of them (built-in roles below, custom roles per tenant in the database).
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    ACCOUNT_SELF = "account:self"  # one's own profile, password and second factor
    ATTEMPT_MANAGE = "attempt:manage"  # release a browser binding, close an attempt
    ATTEMPT_VIEW = "attempt:view"
    # Void an attempt (refunds its start, drops it from statistics): tenant_admin
    # only among the built-in roles, as it moves credits and sets a score aside.
    ATTEMPT_VOID = "attempt:void"
    AUDIT_VIEW = "audit:view"
    BILLING_MANAGE = "billing:manage"
    BILLING_VIEW = "billing:view"
    CANDIDATE_INVITE = "candidate:invite"
    CANDIDATE_VIEW = "candidate:view"
    CERTIFICATE_ISSUE = "certificate:issue"
    CERTIFICATE_REVOKE = "certificate:revoke"
    CERTIFICATE_VIEW = "certificate:view"
    CERTIFICATION_APPROVE = "certification:approve"  # approve issuance where a program asks for it
    CERTIFICATION_MANAGE = "certification:manage"  # programs, groups, members
    EVIDENCE_VIEW = "evidence:view"
    EXAM_CREATE = "exam:create"
    EXAM_PUBLISH = "exam:publish"
    EXAM_VIEW = "exam:view"
    GRADE_MODERATE = "grade:moderate"  # decide between two marks too far apart; regrade
    GRADE_SUBMIT = "grade:submit"
    # Data-subject requests: export everything about a person, erase them.
    PRIVACY_REQUEST = "privacy:request"
    # Watch attempts in progress on the live console and step in (a message,
    # time, a pause, an end, a room check).
    PROCTOR_LIVE = "proctor:live"
    QUESTION_MANAGE = "question:manage"
    QUESTION_VIEW = "question:view"
    RESULT_RELEASE = "result:release"  # release results to candidates, revoke/resend their links
    RESULT_VIEW = "result:view"
    RETENTION_MANAGE = "retention:manage"  # retention policy versions, legal holds
    RETENTION_VIEW = "retention:view"  # policies, holds, receipts, what is due; the trust report
    ROLE_MANAGE = "role:manage"
    ROLE_VIEW = "role:view"
    SHORTLIST_RUN = "shortlist:run"  # positions, rule sets, runs
    SHORTLIST_STAGE = "shortlist:stage"  # move a shortlisted candidate to another stage
    SHORTLIST_VIEW = "shortlist:view"
    TENANT_MANAGE = "tenant:manage"
    USER_MANAGE = "user:manage"
    USER_VIEW = "user:view"
    VIOLATION_REVIEW = "violation:review"


P = Permission
_EVERYONE = {P.ACCOUNT_SELF}

BUILTIN_ROLES: dict[str, frozenset[Permission]] = {
    "tenant_admin": frozenset(Permission),
    # Authors write the questions of their exams; question_manager curates banks alone.
    "exam_author": frozenset(
        _EVERYONE
        | {
            P.EXAM_CREATE,
            P.EXAM_PUBLISH,
            P.EXAM_VIEW,
            P.QUESTION_MANAGE,
            P.QUESTION_VIEW,
            P.CANDIDATE_INVITE,
            P.CANDIDATE_VIEW,
            # Whoever sets when an exam's results are released may release them by hand.
            P.RESULT_RELEASE,
        }
    ),
    "question_manager": frozenset(_EVERYONE | {P.QUESTION_MANAGE, P.QUESTION_VIEW}),
    "proctor_reviewer": frozenset(
        _EVERYONE
        | {
            P.ATTEMPT_VIEW,
            P.ATTEMPT_MANAGE,
            P.VIOLATION_REVIEW,
            P.EVIDENCE_VIEW,
            P.CANDIDATE_VIEW,
            P.EXAM_VIEW,
            P.PROCTOR_LIVE,
        }
    ),
    "grader": frozenset(
        _EVERYONE | {P.ATTEMPT_VIEW, P.GRADE_SUBMIT, P.RESULT_VIEW, P.EXAM_VIEW, P.QUESTION_VIEW}
    ),
    "moderator": frozenset(
        _EVERYONE
        | {
            P.GRADE_SUBMIT,
            P.GRADE_MODERATE,
            P.RESULT_VIEW,
            P.ATTEMPT_VIEW,
            P.EXAM_VIEW,
            P.QUESTION_VIEW,
        }
    ),
    "results_viewer": frozenset(
        _EVERYONE | {P.RESULT_VIEW, P.ATTEMPT_VIEW, P.EXAM_VIEW, P.CANDIDATE_VIEW}
    ),
    "shortlister": frozenset(
        _EVERYONE
        | {
            P.SHORTLIST_RUN,
            P.SHORTLIST_STAGE,
            P.SHORTLIST_VIEW,
            P.RESULT_VIEW,
            P.CANDIDATE_VIEW,
            P.EXAM_VIEW,
        }
    ),
    "certification_manager": frozenset(
        _EVERYONE
        | {
            P.CERTIFICATE_ISSUE,
            P.CERTIFICATE_REVOKE,
            P.CERTIFICATE_VIEW,
            P.CERTIFICATION_APPROVE,
            P.CERTIFICATION_MANAGE,
            P.RESULT_VIEW,
            P.CANDIDATE_VIEW,
            P.EXAM_VIEW,
        }
    ),
    "billing_admin": frozenset(_EVERYONE | {P.BILLING_VIEW, P.BILLING_MANAGE}),
    "auditor": frozenset(
        _EVERYONE
        | {
            P.AUDIT_VIEW,
            P.CERTIFICATE_VIEW,
            P.RESULT_VIEW,
            P.ATTEMPT_VIEW,
            P.USER_VIEW,
            P.ROLE_VIEW,
        }
    ),
}

# A role holding any of these is an administrator (the tenant's MFA policy).
ADMIN_PERMISSIONS = frozenset({P.USER_MANAGE, P.ROLE_MANAGE, P.TENANT_MANAGE})


def parse(names: list[str] | tuple[str, ...]) -> frozenset[Permission]:
    from invigil.errors import Invalid

    unknown = [n for n in names if n not in Permission._value2member_map_]
    if unknown:
        raise Invalid(f"unknown permission(s): {', '.join(unknown)}")
    return frozenset(Permission(n) for n in names)
