"""Content: question banks, questions and their versions, exams."""

from invigil.content import hooks as _hooks

_hooks.install()
