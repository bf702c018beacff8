"""The ledger: every credit, debit and refund of a tenant as a double-entry
transfer, written once (ADR 0048). It imports no domain; the domains that
charge call :func:`invigil.ledger.service.charge` in their own transaction."""
