"""Results: what comes out of an exam.

Grading by people against the question's rubric (blind, double marking,
moderation), the result versions each mark issues, releasing results to
candidates, the per-exam results view and its exports, analytics and item
analysis, and printable reports. It reads delivery and proctoring, never
the other way round (docs/architecture.md).
"""

from invigil.results import hooks as _hooks

_hooks.install()
