"""Every audit action in words, for the audit log a person reads.

The log keeps the stable action names (``exam.published``); people read
what happened ("Published an exam"). A test walks the source for every
action the code writes and fails when one has no wording here, so a new
audit entry cannot reach the page as a bare code. The words are marked
``N_`` here and shown in the reader's language (``locale``).
"""

from __future__ import annotations

from invigil import i18n
from invigil.i18n import N_

ACTIONS: dict[str, str] = {
    # access and sign-in
    "access.denied": N_("Was refused an action beyond their permissions"),
    "auth.signed_in": N_("Signed in"),
    "auth.signed_out": N_("Signed out"),
    "auth.sign_in_failed": N_("Failed to sign in"),
    "auth.locked_out": N_("Was locked out after too many failed sign-ins"),
    "auth.throttled": N_("Was slowed down: too many sign-in attempts from one address"),
    "auth.token_refreshed": N_("Renewed a session"),
    "auth.token_family_revoked": N_("Had a session ended: a renewal token was used twice"),
    "auth.sessions_revoked": N_("Had their sessions ended"),
    # tenants
    "tenant.created": N_("Created the organisation"),
    "tenant.mfa_policy_changed": N_("Changed the two-factor sign-in rule"),
    "tenant.branding_changed": N_("Changed the organisation's accent colour"),
    "tenant.logo_changed": N_("Changed the organisation's logo"),
    "tenant.logo_removed": N_("Removed the organisation's logo"),
    "tenant.languages_changed": N_("Changed the candidates' languages"),
    # staff and roles
    "user.created": N_("Invited a staff member"),
    "user.invite_link_issued": N_("Issued an invitation link"),
    "user.reset_link_issued": N_("Issued a password reset link"),
    "user.password_set": N_("Set a password with a one-time link"),
    "user.password_changed": N_("Changed their password"),
    "user.deactivated": N_("Deactivated a staff account"),
    "user.reactivated": N_("Reactivated a staff account"),
    "user.mfa_enabled": N_("Turned on two-factor sign-in"),
    "user.mfa_disabled": N_("Turned off two-factor sign-in"),
    "user.language_changed": N_("Changed their language for the staff pages"),
    "role.created": N_("Created a role"),
    "role.updated": N_("Changed a role"),
    "role.deleted": N_("Deleted a role"),
    "role.granted": N_("Granted a role"),
    "role.revoked": N_("Took away a role"),
    # content
    "question_bank.created": N_("Created a question bank"),
    "question_bank.updated": N_("Changed a question bank"),
    "question.created": N_("Wrote a question"),
    "question.updated": N_("Changed a question"),
    "question.archived": N_("Archived a question"),
    "question.imported": N_("Imported questions"),
    "question.image_attached": N_("Attached an image to a question"),
    "question.translated": N_("Translated a question"),
    "question.translation_updated": N_("Corrected a question's translation"),
    "question_draft.created": N_("Received a question drafted by AI"),
    "question_draft.rejected": N_("Left out AI-drafted questions that failed the checks"),
    "question_draft.accepted": N_("Reviewed an AI draft and saved it as a question"),
    "question_draft.discarded": N_("Discarded a question drafted by AI"),
    "exam.created": N_("Created an exam"),
    "exam.updated": N_("Changed an exam"),
    "exam.published": N_("Published an exam"),
    "exam.retired": N_("Retired an exam"),
    # delivery
    "candidate.created": N_("Added a candidate"),
    "invitation.created": N_("Invited a candidate"),
    "invitation.revoked": N_("Revoked an invitation"),
    "guest_link.rotated": N_("Sent a new exam link (the old one stopped working)"),
    "guest_link.resent": N_("Sent the same exam link again"),
    "consent.given": N_("Gave consent to proctoring"),
    "consent.declined": N_("Declined consent to proctoring"),
    "attempt.created": N_("Began an attempt"),
    "attempt.started": N_("Started the exam clock"),
    "attempt.submitted": N_("Submitted an attempt"),
    "attempt.bound": N_("Continued an attempt in a new browser"),
    "attempt.released": N_("Released an attempt's browser"),
    "attempt.voided": N_("Voided an attempt (its start refunded when it was charged)"),
    "attempt.navigation_refused": N_("Was refused going back (linear exam)"),
    "result.recorded": N_("Recorded a result"),
    # proctoring
    "proctoring.action": N_("Proctoring applied a rule to an attempt"),
    "proctoring.face_seen": N_("The server saw the candidate's face in the system check"),
    "proctoring.sealed": N_("Sealed an attempt's proctoring record"),
    "proctoring.rechecked": N_("Re-checked a webcam snapshot on the server"),
    "proctoring.conflict": N_("Proctoring found conflicting event batches"),
    "proctoring.segment_registered": N_("Stored a screen recording segment"),
    "review.decided": N_("Decided a proctoring review"),
    "proctor.message_sent": N_("Sent a candidate a message during the exam"),
    "proctor.message_read": N_("Read the proctor's message"),
    "proctor.time_added": N_("Gave a candidate more time during the exam"),
    "proctor.paused": N_("Paused a candidate's exam"),
    "proctor.resumed": N_("Resumed a candidate's exam"),
    "proctor.ended": N_("Ended a candidate's attempt during the exam"),
    "proctor.room_check_requested": N_("Asked a candidate for a room check"),
    "proctor.room_check_recorded": N_("Recorded a room check"),
    "exam.live_proctors_set": N_("Named who may watch an exam live"),
    "review.finalised": N_("Made a review outcome final once the contest window closed"),
    "proctoring.contested": N_("Contested a flag or a review outcome"),
    # results
    "grading.marked": N_("Marked a candidate's answer"),
    "grading.moderated": N_("Decided between two marks of an answer"),
    "grading.regraded": N_("Marked an answer again"),
    "grading.suggested": N_("Was given AI-suggested rubric marks for an answer"),
    "grading.suggestion_discarded": N_("Discarded AI-suggested rubric marks"),
    # evidence
    "evidence.stored": N_("Stored evidence"),
    "bundle.built": N_("Built an evidence bundle"),
    "evidence.upload_completed": N_("Finished an evidence upload"),
    "evidence.url_issued": N_("Was given a link to evidence"),
    "evidence.read": N_("Opened evidence"),
    "evidence.key_destroyed": N_("Destroyed a candidate's evidence key (evidence erased)"),
    "evidence.tenant_key_rewrapped": N_("Re-protected the organisation's evidence key"),
    # evidence bundles
    "bundle.requested": N_("Asked for an evidence bundle"),
    "bundle.retried": N_("Asked again for an evidence bundle that had failed"),
    "bundle.ready": N_("Built an evidence bundle"),
    "bundle.failed": N_("Failed to build an evidence bundle"),
    "bundle.url_issued": N_("Was given a link to an evidence bundle"),
    "bundle.downloaded": N_("Downloaded an evidence bundle"),
    "bundle.expired": N_("Purged an expired evidence bundle"),
    "bundle.purged": N_("Destroyed an evidence bundle whose data was purged"),
    # results
    "result.released": N_("Released a result to its candidate"),
    "result_link.issued": N_("Sent a candidate a link to their result"),
    "result_link.revoked": N_("Revoked a candidate's result link"),
    # certification
    "certification.program_created": N_("Created a certification program"),
    "certification.program_versioned": N_("Saved a new version of a certification program"),
    "certificate.issued": N_("Issued a certificate"),
    "certificate.state_changed": N_("Changed a certificate's state"),
    "certification.group_created": N_("Created a certification group"),
    "certification.group_changed": N_("Renamed or changed a certification group"),
    "certification.group_deleted": N_("Deleted a certification group"),
    "certification.group_requirements_changed": N_("Changed the programs a group requires"),
    "certification.group_member_added": N_("Added a person to a group"),
    "certification.group_member_removed": N_("Removed a person from a group"),
    "certification.group_manager_added": N_("Made a user a group's manager"),
    "certification.group_manager_removed": N_("Removed a group's manager"),
    "certification.group_members_imported": N_("Imported group memberships from a CSV file"),
    "certification.issuer_key_created": N_("Created the key that signs certificates' credentials"),
    "certification.issuer_key_rotated": N_("Replaced the key that signs certificates' credentials"),
    "certification.issuer_key_withdrawn": N_("Withdrew a stolen credential signing key"),
    "certification.approval_requested": N_("Asked an approver to issue a certificate"),
    "certification.approved": N_("Approved issuing a certificate"),
    "certification.rejected": N_("Rejected issuing a certificate"),
    "certification.program_archived": N_("Archived a certification program"),
    "certification.program_restored": N_("Restored a certification program"),
    "certificate.recert_reminded": N_("Reminded a holder that their certificate expires"),
    "certificate.recert_invited": N_("Invited a holder to the recertification exam"),
    "certificate.lapse_escalated": N_("Told a group's managers that a certificate lapsed"),
    # AI
    "ai.called": N_("Called the AI provider"),
    "ai.settings_changed": N_("Changed the AI settings"),
    # ledger
    "ledger.transferred": N_("Moved credits between ledger accounts"),
    "ledger.price_list_set": N_("Set a new version of the price list"),
    # retention and privacy
    "retention.policy_set": N_("Set a new version of the retention policy"),
    "retention.hold_placed": N_("Placed a legal hold"),
    "retention.hold_lifted": N_("Lifted a legal hold"),
    "privacy.request_received": N_("Recorded a data-subject request"),
    "privacy.request_completed": N_("Completed a data-subject request"),
    "privacy.request_refused": N_("Refused a data-subject request"),
    "privacy.export_requested": N_("Asked for a person's data export to be built"),
    "privacy.export_failed": N_("Building a person's data export failed"),
    "privacy.export_built": N_("Built a person's data export"),
    "privacy.export_downloaded": N_("Downloaded a person's data export"),
    "retention.purged": N_("Purged candidate data and signed a deletion receipt"),
    "portal_link.issued": N_("Sent a candidate a link to their portal"),
    "portal_link.revoked": N_("Revoked a candidate's portal link"),
    "portal.evidence_viewed": N_("Opened their own evidence in the candidate portal"),
    "ledger.storage_measured": N_("Measured a day of evidence storage"),
    # shortlists
    "shortlist.position_created": N_("Created a position"),
    "shortlist.position_changed": N_("Changed a position"),
    "shortlist.rule_set_created": N_("Created a shortlist rule set"),
    "shortlist.rules_versioned": N_("Saved a new version of shortlist rules"),
    "shortlist.run_completed": N_("Ran a shortlist"),
    "shortlist.stage_changed": N_("Moved a shortlisted candidate to another stage"),
    "shortlist.stages_changed": N_("Changed the shortlist stages"),
    # webhooks
    "webhook.endpoint_created": N_("Added a webhook endpoint"),
    "webhook.endpoint_changed": N_("Changed a webhook endpoint"),
    "webhook.endpoint_deleted": N_("Deleted a webhook endpoint"),
    "webhook.secret_rotated": N_("Made a new signing secret for a webhook endpoint"),
    "webhook.pinged": N_("Sent a test event to a webhook endpoint"),
    "webhook.redelivered": N_("Sent a webhook delivery again"),
}

# Subject types as words.
SUBJECTS: dict[str, str] = {
    "address": N_("network address (keyed hash)"),
    "attempt": N_("attempt"),
    "attempt_result": N_("result"),
    "auth_session": N_("session"),
    "sign_in": N_("sign-in e-mail (keyed hash)"),
    "sign_in_failure": N_("failed sign-in"),
    "candidate": N_("candidate"),
    "consent": N_("consent"),
    "evidence_object": N_("evidence"),
    "evidence_upload": N_("evidence upload"),
    "evidence_tenant_key": N_("evidence key"),
    "exam": N_("exam"),
    "grading_mark": N_("mark"),
    "rubric_suggestion": N_("AI-suggested marks"),
    "rubric_suggestion_discard": N_("discard of AI-suggested marks"),
    "guest_link": N_("exam link"),
    "invitation": N_("invitation"),
    "question": N_("question"),
    "question_bank": N_("question bank"),
    "question_draft": N_("AI question draft"),
    "privacy_request": N_("data-subject request"),
    "result_link": N_("result link"),
    "result_release": N_("result release"),
    "review_decision": N_("review decision"),
    "proctoring_contest": N_("candidate's contest"),
    "portal_link": N_("candidate portal link"),
    "role": N_("role"),
    "cert_program": N_("certification program"),
    "cert_program_version": N_("certification program version"),
    "certificate": N_("certificate"),
    "certificate_state_change": N_("certificate state change"),
    "ledger_transfer": N_("ledger transfer"),
    "ai_usage": N_("AI call"),
    "ai_settings": N_("AI settings"),
    "ledger_price_list": N_("price list"),
    "ledger_storage_day": N_("day of evidence storage"),
    "cert_group": N_("certification group"),
    "cert_group_import": N_("group membership import"),
    "cert_issuer_key": N_("credential signing key"),
    "cert_pending": N_("certificate approval request"),
    "shortlist_position": N_("position"),
    "shortlist_rule_set": N_("shortlist rule set"),
    "shortlist_rule_set_version": N_("shortlist rules"),
    "shortlist_run": N_("shortlist"),
    "shortlist_settings": N_("shortlist stages"),
    "shortlist_stage_change": N_("stage change"),
    "tenant": N_("organisation"),
    "user": N_("staff member"),
    "webhook_delivery": N_("webhook delivery"),
    "webhook_endpoint": N_("webhook endpoint"),
}


def action_words(action: str, locale: str = i18n.DEFAULT) -> str:
    """The sentence for ``action`` (the code itself when none is known)."""
    found = ACTIONS.get(action)
    return i18n.gettext(locale, found) if found else action


def subject_words(subject_type: str, locale: str = i18n.DEFAULT) -> str:
    found = SUBJECTS.get(subject_type)
    return i18n.gettext(locale, found) if found else subject_type.replace("_", " ")


def detail_words(key: str) -> str:
    """A payload key as a label: ``require_mfa_for_admins`` -> "Require mfa for admins"."""
    return key.replace("_", " ").capitalize()
