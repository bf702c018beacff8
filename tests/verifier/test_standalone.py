"""The verifier alone: copied without the rest of Invigil, run with
``python -I``, it still checks a real bundle (and refuses a tampered one)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from invigil.context import Services
from invigil.settings import Settings
from tests.conftest import BoundDatabase
from tests.results.bundles import build, rezip, sitting

PACKAGE = Path(__file__).parents[2] / "src" / "invigil" / "verifier"
# The copy is the only "invigil" on the path: any import of another Invigil
# module fails there, whatever the environment has installed.
RUN = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from invigil.verifier.__main__ import main; sys.exit(main(sys.argv[2:]))"
)


def alone(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-c", RUN, str(tmp), *args],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_verifier_runs_copied_alone(
    db: BoundDatabase, settings: Settings, tmp_path: Path
) -> None:
    services = Services.build(settings)
    sat = sitting(db, settings, services, n=1)
    data = build(db, services, sat.tenant_id, sat.attempts[0])
    root = tmp_path / "alone"
    shutil.copytree(
        PACKAGE, root / "invigil" / "verifier", ignore=shutil.ignore_patterns("__pycache__")
    )
    (root / "invigil" / "__init__.py").write_text("")
    good = tmp_path / "good.zip"
    good.write_bytes(data)
    ran = alone(root, str(good))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "verified" in ran.stdout and "anchors      ok" in ran.stdout
    bad = tmp_path / "bad.zip"
    bad.write_bytes(rezip(data, {"records/answers.jsonl": b'{"slot":0}\n'}))
    ran = alone(root, "--json", str(bad))
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert '"member": "records/answers.jsonl", "check": "hashes"' in ran.stdout
    poisoned = root / "invigil" / "verifier" / "proofs.py"
    poisoned.write_text(poisoned.read_text() + "\nimport invigil.audit.merkle\n")
    ran = alone(root, str(good))
    assert ran.returncode != 0 and "No module named 'invigil.audit'" in ran.stderr
