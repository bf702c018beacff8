"""The auditor's offline checks (docs/formats/evidence-bundle.md,
docs/formats/result-recomputation.md).

Nothing in this package imports any other part of Invigil (an import-linter
contract and tests that run it copied alone under ``python -I`` hold it to
that): it is an independent reading of the formats, so a fault in Invigil's
own code cannot vouch for itself. The result recomputation
(:mod:`.scoring`) needs only the standard library; checking a bundle's
signatures needs ``cryptography`` as well, loaded only when a bundle is
checked::

    python -m invigil.verifier BUNDLE.zip [--key PUBKEY] [--json]

:func:`verify` returns a :class:`Summary`: each check ``ok``, ``failed``
or ``not run``, and the first failure naming the member and the check.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from .bundle import Summary

# Loaded on first use, so that the recomputation runs where cryptography is absent.
_LAZY = {
    "CHECKS": "bundle",
    "FORMAT": "bundle",
    "Failure": "bundle",
    "Summary": "bundle",
    "BadKey": "proofs",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def verify(
    source: str | Path | IO[bytes], pinned: dict[str, Ed25519PublicKey] | None = None
) -> Summary:
    """Check the bundle; ``pinned``: trust only these checkpoint keys."""
    from .bundle import run

    return run(source, pinned)


def load_key(path: str | Path) -> dict[str, Ed25519PublicKey]:
    """A pinned key from a file: PEM, JWK or key set. Raises BadKey."""
    from .proofs import BadKey, parse_pinned

    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise BadKey(f"cannot read the key file {path}: {exc.strerror}") from None
    return parse_pinned(raw, str(path))


__all__ = ["CHECKS", "FORMAT", "BadKey", "Failure", "Summary", "load_key", "verify"]
