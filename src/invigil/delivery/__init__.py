"""Candidate delivery: candidates, invitations, guest links, the mail outbox."""

from invigil.delivery import hooks as _hooks

_hooks.install()
