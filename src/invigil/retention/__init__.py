"""Retention and privacy: each tenant's rules for how long candidate data is
kept, legal holds, purges with signed receipts, and candidates' rights."""

from invigil.retention import hooks as _hooks

_hooks.install()
