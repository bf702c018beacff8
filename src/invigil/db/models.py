"""Every model, imported once so ``metadata`` knows all tables."""

from __future__ import annotations

from invigil.ai.models import AiSettings, AiUsage
from invigil.audit.models import AuditCheckpoint, AuditEvent, AuditHead, BundleRequest
from invigil.certification.models import (
    Certificate,
    Group,
    GroupManager,
    GroupMember,
    GroupRequirement,
    IssuerKey,
    Notice,
    PendingIssue,
    Program,
    ProgramVersion,
)
from invigil.certification.models import StateChange as CertificateStateChange
from invigil.content.images import QuestionImage
from invigil.content.models import (
    Exam,
    ExamVersion,
    Question,
    QuestionBank,
    QuestionDraft,
    QuestionVersion,
)
from invigil.db.base import Base
from invigil.delivery.models import (
    Attempt,
    AttemptAnswer,
    AttemptResult,
    AttemptVoid,
    Candidate,
    Consent,
    GuestLink,
    Invitation,
    OutboxMail,
    ResultCell,
)
from invigil.evidence.models import DataKey, EvidenceObject, TenantKey, Upload, UploadChunk
from invigil.identity.models import (
    AuthSession,
    RefreshToken,
    Role,
    SignInFailure,
    SsoConfig,
    SsoIdentity,
    SsoLogin,
    User,
    UserRole,
    UserToken,
)
from invigil.ledger.models import Account as LedgerAccount
from invigil.ledger.models import Entry as LedgerEntry
from invigil.ledger.models import PriceList as LedgerPriceList
from invigil.ledger.models import StorageDay as LedgerStorageDay
from invigil.ledger.models import Transfer as LedgerTransfer
from invigil.lti.models import (
    LtiAccount,
    LtiLaunch,
    LtiLink,
    LtiPlatform,
    LtiScorePost,
    LtiSeat,
    LtiToolKey,
)
from invigil.proctoring.models import (
    Contest,
    ProctoringAction,
    ProctoringEvent,
    RecordingSegment,
    ReviewDecision,
    Snapshot,
)
from invigil.results.models import (
    AnalyticsCache,
    GradingMark,
    ResultLink,
    ResultRelease,
    RubricSuggestion,
    RubricSuggestionDiscard,
)
from invigil.retention.models import (
    HoldLift,
    LegalHold,
    ObjectDeletion,
    PortalLink,
    PrivacyRequest,
    Purge,
    PurgedRecord,
    Receipt,
    RetentionPolicy,
)
from invigil.shortlists.models import (
    Entry as ShortlistEntry,
)
from invigil.shortlists.models import (
    Position as ShortlistPosition,
)
from invigil.shortlists.models import (
    PositionExam as ShortlistPositionExam,
)
from invigil.shortlists.models import (
    RuleSet as ShortlistRuleSet,
)
from invigil.shortlists.models import (
    RuleSetVersion as ShortlistRuleSetVersion,
)
from invigil.shortlists.models import (
    Run as ShortlistRun,
)
from invigil.shortlists.models import (
    Settings as ShortlistSettings,
)
from invigil.shortlists.models import (
    StageChange as ShortlistStageChange,
)
from invigil.tenants.branding import TenantBranding
from invigil.tenants.models import Tenant
from invigil.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventPerson,
)

metadata = Base.metadata

__all__ = [
    "AiSettings",
    "AiUsage",
    "AnalyticsCache",
    "Attempt",
    "AttemptAnswer",
    "AttemptResult",
    "AttemptVoid",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditHead",
    "AuthSession",
    "BundleRequest",
    "Candidate",
    "Certificate",
    "CertificateStateChange",
    "Consent",
    "Contest",
    "DataKey",
    "EvidenceObject",
    "Exam",
    "ExamVersion",
    "GradingMark",
    "Group",
    "GroupManager",
    "GroupMember",
    "GroupRequirement",
    "GuestLink",
    "HoldLift",
    "Invitation",
    "IssuerKey",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerPriceList",
    "LedgerStorageDay",
    "LedgerTransfer",
    "LegalHold",
    "LtiAccount",
    "LtiLaunch",
    "LtiLink",
    "LtiPlatform",
    "LtiScorePost",
    "LtiSeat",
    "LtiToolKey",
    "Notice",
    "ObjectDeletion",
    "OutboxMail",
    "PendingIssue",
    "PortalLink",
    "PrivacyRequest",
    "ProctoringAction",
    "ProctoringEvent",
    "Program",
    "ProgramVersion",
    "Purge",
    "PurgedRecord",
    "Question",
    "QuestionBank",
    "QuestionDraft",
    "QuestionImage",
    "QuestionVersion",
    "Receipt",
    "RecordingSegment",
    "RefreshToken",
    "ResultCell",
    "ResultLink",
    "ResultRelease",
    "RetentionPolicy",
    "ReviewDecision",
    "Role",
    "RubricSuggestion",
    "RubricSuggestionDiscard",
    "ShortlistEntry",
    "ShortlistPosition",
    "ShortlistPositionExam",
    "ShortlistRuleSet",
    "ShortlistRuleSetVersion",
    "ShortlistRun",
    "ShortlistSettings",
    "ShortlistStageChange",
    "SignInFailure",
    "Snapshot",
    "SsoConfig",
    "SsoIdentity",
    "SsoLogin",
    "Tenant",
    "TenantBranding",
    "TenantKey",
    "Upload",
    "UploadChunk",
    "User",
    "UserRole",
    "UserToken",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEventPerson",
    "metadata",
]
