"""Identity: staff accounts (completed by the identity issue: roles, tokens)."""

from invigil.identity import hooks as _hooks

_hooks.install()
