"""Server secret files: made once, owner-only, the same bytes for every
process that races to make them."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from invigil.security.keyfile import secret_file


def test_made_once_owner_only_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "links.key"
    first = secret_file(path)
    assert len(first) == 32 and secret_file(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_racing_makers_all_read_the_winners_bytes(tmp_path: Path) -> None:
    for attempt in range(20):
        path = tmp_path / f"race-{attempt}" / "secret.key"
        with ThreadPoolExecutor(max_workers=8) as pool:
            seen = set(pool.map(secret_file, [path] * 8))
        assert len(seen) == 1 and len(seen.pop()) == 32
