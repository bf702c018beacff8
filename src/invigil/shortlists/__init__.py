"""Shortlists: ranked lists of candidates for a position, from final results.

Positions group exams; versioned rule sets say who qualifies and in which
order; a run freezes a rule set version and a cohort into a ranked list
with reasons (and exclusions with the first rule failed); shortlisted
candidates move through the tenant's stages. Reads results, proctoring,
delivery and content; nothing below imports it (docs/architecture.md).
"""

from invigil.shortlists import hooks as _hooks

_hooks.install()
