"""The offline verifier of evidence bundles (docs/formats/evidence-bundle.md).

This package imports nothing but the Python standard library and
``cryptography`` (an import-linter contract holds it to that, and a test
runs it copied alone), so an auditor can read it in an afternoon and run
it without Invigil, its database or the network::

    python -m invigil.verifier BUNDLE.zip [--key PUBKEY] [--json]

:func:`verify` returns a :class:`Summary`: each check ``ok``, ``failed``
or ``not run``, and the first failure naming the member and the check.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .bundle import CHECKS, FORMAT, Failure, Summary, run
from .proofs import BadKey, parse_pinned


def verify(
    source: str | Path | IO[bytes], pinned: dict[str, Ed25519PublicKey] | None = None
) -> Summary:
    """Check the bundle; ``pinned``: trust only these checkpoint keys."""
    return run(source, pinned)


def load_key(path: str | Path) -> dict[str, Ed25519PublicKey]:
    """A pinned key from a file: PEM, JWK or key set. Raises BadKey."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise BadKey(f"cannot read the key file {path}: {exc.strerror}") from None
    return parse_pinned(raw, str(path))


__all__ = ["CHECKS", "FORMAT", "BadKey", "Failure", "Summary", "load_key", "verify"]
