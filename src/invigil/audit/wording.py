"""Every audit action in words, for the audit log a person reads.

The log keeps the stable action names (``exam.published``); people read
what happened ("Published an exam"). A test walks the source for every
action the code writes and fails when one has no wording here, so a new
audit entry cannot reach the page as a bare code.
"""

from __future__ import annotations

ACTIONS: dict[str, str] = {
    # access and sign-in
    "access.denied": "Was refused an action beyond their permissions",
    "auth.signed_in": "Signed in",
    "auth.signed_out": "Signed out",
    "auth.sign_in_failed": "Failed to sign in",
    "auth.locked_out": "Was locked out after too many failed sign-ins",
    "auth.throttled": "Was slowed down: too many sign-in attempts from one address",
    "auth.token_refreshed": "Renewed a session",
    "auth.token_family_revoked": "Had a session ended: a renewal token was used twice",
    "auth.sessions_revoked": "Had their sessions ended",
    # tenants
    "tenant.created": "Created the organisation",
    "tenant.mfa_policy_changed": "Changed the two-factor sign-in rule",
    "tenant.branding_changed": "Changed the organisation's accent colour",
    "tenant.logo_changed": "Changed the organisation's logo",
    "tenant.logo_removed": "Removed the organisation's logo",
    "tenant.languages_changed": "Changed the candidates' languages",
    # staff and roles
    "user.created": "Invited a staff member",
    "user.invite_link_issued": "Issued an invitation link",
    "user.reset_link_issued": "Issued a password reset link",
    "user.password_set": "Set a password with a one-time link",
    "user.password_changed": "Changed their password",
    "user.deactivated": "Deactivated a staff account",
    "user.reactivated": "Reactivated a staff account",
    "user.mfa_enabled": "Turned on two-factor sign-in",
    "user.mfa_disabled": "Turned off two-factor sign-in",
    "user.language_changed": "Changed their language for the staff pages",
    "role.created": "Created a role",
    "role.updated": "Changed a role",
    "role.deleted": "Deleted a role",
    "role.granted": "Granted a role",
    "role.revoked": "Took away a role",
    # content
    "question_bank.created": "Created a question bank",
    "question_bank.updated": "Changed a question bank",
    "question.created": "Wrote a question",
    "question.updated": "Changed a question",
    "question.archived": "Archived a question",
    "question.imported": "Imported questions",
    "question.image_attached": "Attached an image to a question",
    "question.translated": "Translated a question",
    "question.translation_updated": "Corrected a question's translation",
    "exam.created": "Created an exam",
    "exam.updated": "Changed an exam",
    "exam.published": "Published an exam",
    "exam.retired": "Retired an exam",
    # delivery
    "candidate.created": "Added a candidate",
    "invitation.created": "Invited a candidate",
    "invitation.revoked": "Revoked an invitation",
    "guest_link.rotated": "Sent a new exam link (the old one stopped working)",
    "guest_link.resent": "Sent the same exam link again",
    "consent.given": "Gave consent to proctoring",
    "consent.declined": "Declined consent to proctoring",
    "attempt.created": "Began an attempt",
    "attempt.started": "Started the exam clock",
    "attempt.submitted": "Submitted an attempt",
    "attempt.bound": "Continued an attempt in a new browser",
    "attempt.released": "Released an attempt's browser",
    "attempt.navigation_refused": "Was refused going back (linear exam)",
    "result.recorded": "Recorded a result",
    # proctoring
    "proctoring.action": "Proctoring applied a rule to an attempt",
    "proctoring.face_seen": "The server saw the candidate's face in the system check",
    "proctoring.sealed": "Sealed an attempt's proctoring record",
    "proctoring.rechecked": "Re-checked a webcam snapshot on the server",
    "proctoring.conflict": "Proctoring found conflicting event batches",
    "proctoring.segment_registered": "Stored a screen recording segment",
    "review.decided": "Decided a proctoring review",
    # evidence
    "evidence.stored": "Stored evidence",
    "evidence.upload_completed": "Finished an evidence upload",
    "evidence.url_issued": "Was given a link to evidence",
    "evidence.read": "Opened evidence",
    "evidence.key_destroyed": "Destroyed a candidate's evidence key (evidence erased)",
    "evidence.tenant_key_rewrapped": "Re-protected the organisation's evidence key",
}

# Subject types as words.
SUBJECTS: dict[str, str] = {
    "address": "network address",
    "attempt": "attempt",
    "attempt_result": "result",
    "auth_session": "session",
    "candidate": "candidate",
    "consent": "consent",
    "evidence_object": "evidence",
    "evidence_upload": "evidence upload",
    "evidence_tenant_key": "evidence key",
    "exam": "exam",
    "guest_link": "exam link",
    "invitation": "invitation",
    "question": "question",
    "question_bank": "question bank",
    "review_decision": "review decision",
    "role": "role",
    "tenant": "organisation",
    "user": "staff member",
}


def action_words(action: str) -> str:
    """The sentence for ``action`` (the code itself when none is known)."""
    return ACTIONS.get(action, action)


def subject_words(subject_type: str) -> str:
    return SUBJECTS.get(subject_type, subject_type.replace("_", " "))


def detail_words(key: str) -> str:
    """A payload key as a label: ``require_mfa_for_admins`` -> "Require mfa for admins"."""
    return key.replace("_", " ").capitalize()
