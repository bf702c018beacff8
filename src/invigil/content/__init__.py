"""Content: question banks, questions with immutable versions, exams."""

from invigil.content import hooks as _hooks

_hooks.install()
