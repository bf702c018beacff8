"""Certification: programs, certificates, verifiable credentials, coverage
and recertification.

A program says what a candidate must achieve (final results of its exams,
a minimum percentage, a clean or cleared integrity outcome, prerequisite
certifications) and how long the certificate lasts; versions freeze it. A
certificate is issued from final results (automatically or after an
approver), lives through its states (issued, suspended, expired, revoked),
each change a new record, and is renewed through recertification. Reads
results and the domains below; nothing below imports it
(docs/architecture.md).
"""

from invigil.certification import hooks as _hooks
from invigil.certification import mail as _mail
from invigil.certification import recert_jobs as _recert_jobs

_hooks.install()
_mail.install()
_recert_jobs.install()
