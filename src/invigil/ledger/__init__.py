"""The ledger: every credit, debit and refund of a tenant as a double-entry
transfer, written once (ADR 0048). It imports no domain; the domains that
charge call :func:`invigil.ledger.service.charge` in their own transaction.
Evidence storage is measured and charged by its own periodic job (ADR 0051)."""

from invigil.ledger import jobs as _jobs

_jobs.install()
