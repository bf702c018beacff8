"""Server secrets kept as files in ``$INVIGIL_HOME/keys``: made on first use,
readable by the owner only, and never overwritten (when two processes race
to make one, the first wins and both read the same bytes)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def secret_file(path: Path, size: int = 32) -> bytes:
    """The secret in ``path``, made from ``size`` random bytes if it is missing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Written whole under a private name, then linked into place: a
        # reader never sees a half-written file, and a link never replaces.
        fd, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(os.urandom(size))
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):  # another process made it first
                os.link(draft, path)
        finally:
            os.unlink(draft)
    return path.read_bytes()
