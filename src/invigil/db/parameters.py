"""Rows sent to a statement as one JSON parameter (``json_to_recordset``).

The hot statements (a batch of proctoring events, its actions, its audit
entries) take their rows this way rather than as parameter sets; orjson
writes that text several times faster than the standard library, which was
a measurable share of a batch's CPU (docs/performance.md). The text only
travels to PostgreSQL, which reads any valid JSON the same: nothing hashes
or signs it (canonical forms are :mod:`invigil.audit.canonical`'s job).
"""

from __future__ import annotations

from typing import Any

import orjson


def json_rows(rows: Any) -> str:
    """``rows`` (dicts, lists, strings, numbers, booleans, None) as JSON text."""
    return orjson.dumps(rows).decode()
