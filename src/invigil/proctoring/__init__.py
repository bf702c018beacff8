"""Proctoring: the policy engine, the event pipeline, the staff API."""

from invigil.proctoring import hooks as _hooks

_hooks.install()
