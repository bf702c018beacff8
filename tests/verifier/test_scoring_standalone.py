"""The result recomputation runs alone: the package copied out of the tree, under
another name, in an isolated interpreter without site-packages (``python
-I -S``), recomputes a recorded result from the three documents as files,
loads nothing but the standard library and itself, and notices a changed
answer."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import invigil.verifier
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase
from tests.delivery.factories import exam_with_every_type, kit_for
from tests.verifier.sitting import documents, right_answer, sit

SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from auditor.paper import check_paper
from auditor.scoring import check_revisions
read = lambda name: json.loads(open(sys.argv[2] + "/" + name, encoding="utf-8").read())
exam, sheet, marks, results = (read(n) for n in ("exam.json", "sheet.json", "marks.json", "results.json"))
said = check_revisions(exam, sheet, marks, results) or check_paper(exam, sheet)
stdlib = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib")}
foreign = sorted(
    name for name, m in list(sys.modules.items())
    if getattr(m, "__file__", None)
    and not m.__file__.startswith((sys.argv[1], *stdlib))
)
print(json.dumps({"said": said, "foreign": foreign, "invigil": [n for n in sys.modules if n.startswith("invigil")]}))
""".replace("import json, sys", "import json, sys, sysconfig")


def run(tmp: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", SCRIPT, str(tmp / "code"), str(tmp / "data")],
        capture_output=True, text=True, timeout=120, cwd=tmp, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_the_verifier_runs_copied_out_alone(
    db: BoundDatabase, settings: Settings, tenant_a: Tenant, tmp_path: Path
) -> None:
    exam = exam_with_every_type(db, tenant_a.id, settings={"pass_mark_percent": 50})
    found = documents(db, tenant_a.id, sit(db, tenant_a.id, kit_for(settings), exam,
                                           lambda i, s, b: right_answer(s, b) if i % 2 else None))  # fmt: skip
    shutil.copytree(Path(invigil.verifier.__file__).parent, tmp_path / "code" / "auditor",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    data = tmp_path / "data"
    data.mkdir()
    parts = {
        "exam": found.exam,
        "sheet": found.sheet,
        "marks": found.marks,
        "results": found.results,
    }
    for name, part in parts.items():
        (data / f"{name}.json").write_text(json.dumps(part), encoding="utf-8")
    assert run(tmp_path) == {"said": None, "foreign": [], "invigil": []}
    found.sheet["answers"][0]["response"] = [
        0,
        1,
    ]  # the multiple choice (slot 1) answered otherwise
    (data / "sheet.json").write_text(json.dumps(found.sheet), encoding="utf-8")
    said = run(tmp_path)["said"]
    assert isinstance(said, str) and said.startswith("revision 1: awarded"), said
