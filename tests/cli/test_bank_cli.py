"""`invigil bank import` and `invigil bank export` against the test database:
the API's import and export run as the operator, all or nothing, with the
CLI's larger limits; bad input answered with a message and a non-zero exit,
never a traceback."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from invigil.audit.models import AuditEvent
from invigil.cli import cli
from invigil.cli.banks import FileFormat, _Bar, _format
from invigil.content import questions, transfer
from invigil.content.formats import csv as csv_format
from invigil.content.formats import json as json_format
from invigil.content.formats import qti
from invigil.content.questions import Search
from invigil.errors import Invalid
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, make_tenant
from tests.content.factories import SAMPLES, make_bank, sample


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception  # a traceback the operator would have seen
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture
def tenant(db: BoundDatabase, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Tenant:
    """A fresh tenant; the command's units of work run in the test's transaction."""
    monkeypatch.setattr("invigil.cli.database._database", lambda: db)
    return make_tenant(db, settings)


def in_bank(db: BoundDatabase, tenant: Tenant, bank: uuid.UUID) -> list[tuple[uuid.UUID, Any]]:
    with db.unit_of_work(tenant.id) as uow:
        rows, _ = questions.search(uow, Search(bank_id=bank))
        return [(r.question.id, questions.as_input(r.version)) for r in rows]


def imports(db: BoundDatabase, tenant: Tenant) -> list[AuditEvent]:
    with db.unit_of_work(tenant.id) as uow:
        return uow.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "question.imported")
            .order_by(AuditEvent.seq)
        )


ALL = [sample(kind) for kind in SAMPLES]
FILES = {
    "questions.json": json_format.dump(ALL),
    "questions.csv": csv_format.dump(ALL),
    "questions.xml": qti.dump([(f"Q-{n}", q) for n, q in enumerate(ALL)])[0],
}
IN_QTI = [q for q in ALL if q.body.type in qti.COVERED]


@pytest.mark.parametrize("name", sorted(FILES))
def test_a_file_imports_into_a_fresh_bank_by_name_once(
    db: BoundDatabase, tenant: Tenant, tmp_path: Path, name: str
) -> None:
    bank = make_bank(db, tenant.id, "Migrated  bank")
    file = tmp_path / name
    file.write_text(FILES[name], encoding="utf-8", newline="")
    expected = IN_QTI if name.endswith(".xml") else ALL

    code, out, err = run("--json", "bank", "import", str(file), "--tenant", tenant.slug,
                         "--bank", "Migrated bank")  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    made = in_bank(db, tenant, bank)
    assert [q for _, q in made] == expected
    assert report["question_ids"] == [str(i) for i, _ in made]
    assert (report["imported"], report["skipped_duplicates"]) == (len(expected), 0)
    entry = imports(db, tenant)[-1]
    assert entry.actor_kind == "operator" and entry.subject_id == str(bank)
    assert entry.payload["count"] == len(expected)
    assert entry.payload["question_ids"] == report["question_ids"]

    code, out, _ = run("bank", "import", str(file), "--tenant", tenant.slug, "--bank", str(bank))
    assert code == 0
    assert out.startswith(f"imported 0, skipped {len(expected)} exact duplicates into bank")
    assert len(in_bank(db, tenant, bank)) == len(expected)


def test_a_file_with_problems_imports_nothing_and_names_each(
    db: BoundDatabase, tenant: Tenant, tmp_path: Path
) -> None:
    bank = make_bank(db, tenant.id, "Atomic")
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text(
        "type,category,points,prompt,correct,choices\r\n"
        "true_false,Science,1,Is water wet?,true,\r\n"
        "single_choice,Science,1,Pick one,Z,A|B\r\n"
        "numeric,Maths,-2,How many?,4,\r\n"
    )
    code, out, err = run(
        "bank", "import", str(bad_csv), "--tenant", tenant.slug, "--bank", "Atomic"
    )
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert lines[0].startswith("error: nothing was imported: the file has 2 problems")
    assert lines[1].startswith("line 3: correct: 'Z' is not one of the choice letters")
    assert lines[2].startswith("line 4: ")

    items = [SAMPLES["true_false"], SAMPLES["numeric"] | {"points": "lots"}]
    bad_json = tmp_path / "bad.json"
    bad_json.write_text(json.dumps(items))
    code, out, _ = run("bank", "import", str(bad_json), "--tenant", tenant.slug,
                       "--bank", "Atomic", "--json")  # fmt: skip
    assert code == 1
    assert [p["where"] for p in json.loads(out)["problems"]] == ["index 1"]

    # QTI: an item Invigil cannot carry is left out; when none is left, nothing is imported
    text, _ = qti.dump([("Q-bad", sample("single_choice"))])
    bad_qti = tmp_path / "bad.data"
    bad_qti.write_text(text.replace("<qti-value>C2</qti-value>", "<qti-value>C9</qti-value>"))
    code, _, err = run("bank", "import", str(bad_qti), "--format", "qti",
                       "--tenant", tenant.slug, "--bank", "Atomic")  # fmt: skip
    assert code == 1 and "\nitem Q-bad: " in err and "cannot import this item" in err

    assert in_bank(db, tenant, bank) == [] and imports(db, tenant) == []


def test_banks_by_id_or_exact_name_and_what_is_refused(
    db: BoundDatabase, tenant: Tenant, settings: Settings, tmp_path: Path
) -> None:
    file = tmp_path / "questions.json"
    file.write_text(FILES["questions.json"])
    first = make_bank(db, tenant.id, "Physics")
    second = make_bank(db, tenant.id, str(first))  # a name that is another bank's id

    def refused(*args: str) -> str:
        code, out, err = run("bank", "import", *args)
        assert code != 0 and out == ""
        return err

    err = refused(str(file), "--tenant", tenant.slug, "--bank", str(first))
    assert f"is the id of bank 'Physics' ({first}) and the name of bank {second}" in err
    err = refused(str(file), "--tenant", tenant.slug, "--bank", "physics")
    assert "no question bank 'physics' in this tenant" in err and f"'Physics' ({first})" in err
    other = make_tenant(db, settings)
    assert "no question bank" in refused(str(file), "--tenant", other.slug, "--bank", "Physics")
    assert "no tenant with slug 'nobody'" in refused(
        str(file), "--tenant", "nobody", "--bank", "Physics"
    )
    missing = tmp_path / "missing.json"
    assert f"cannot read {missing}" in refused(
        str(missing), "--tenant", tenant.slug, "--bank", "Physics"
    )
    assert "give --format json, csv or qti" in refused(
        str(tmp_path / "questions.txt"), "--tenant", tenant.slug, "--bank", "Physics"
    )
    empty = tmp_path / "empty.csv"
    empty.write_text("  \n")
    assert "error: the file is empty" in refused(
        str(empty), "--tenant", tenant.slug, "--bank", "Physics"
    )
    assert in_bank(db, tenant, first) == [] and in_bank(db, tenant, second) == []

    code, out, err = run("bank", "import", str(file), "--tenant", tenant.slug,
                         "--bank", str(second))  # fmt: skip
    assert code == 0 and out.startswith(f"imported {len(ALL)}, skipped 0 exact duplicates"), err
    assert len(in_bank(db, tenant, second)) == len(ALL) and in_bank(db, tenant, first) == []


@pytest.mark.parametrize("fmt", ["json", "csv", "qti"])
def test_an_export_imports_into_another_bank_as_equal_questions(
    db: BoundDatabase, tenant: Tenant, tmp_path: Path, fmt: str
) -> None:
    source = make_bank(db, tenant.id, "Source")
    target = make_bank(db, tenant.id, "Target")
    with db.unit_of_work(tenant.id) as uow:
        transfer.import_questions(uow, source, "json", FILES["questions.json"].encode())
        api = transfer.export_questions(uow, source, fmt)  # type: ignore[arg-type]

    r = CliRunner().invoke(
        cli, ["bank", "export", "--tenant", tenant.slug, "--bank", "Source", "--format", fmt]
    )
    assert r.exit_code == 0 and r.stdout_bytes == api.text.encode()  # CSV's CRLF too
    file = tmp_path / f"export.{fmt}"
    code, out, err = run("--json", "bank", "export", "--tenant", tenant.slug,
                         "--bank", str(source), "--format", fmt, "--out", str(file))  # fmt: skip
    assert code == 0 and json.loads(out)["file"] == str(file)
    assert file.read_bytes() == api.text.encode()
    left_out = [i for i, q in in_bank(db, tenant, source) if q.body.type not in qti.COVERED]
    if fmt == "qti":
        assert err.strip().endswith(", ".join(f"Q-{i}" for i in left_out))
    else:
        assert err == ""

    code, _, err = run("bank", "import", str(file), "--tenant", tenant.slug, "--bank", "Target")
    assert code == 0, err
    moved = [q for _, q in in_bank(db, tenant, target)]
    assert moved == (IN_QTI if fmt == "qti" else ALL)


def numbered(n: int) -> list[dict[str, Any]]:
    item = SAMPLES["true_false"]
    return [item | {"body": item["body"] | {"prompt": f"Statement {i}"}} for i in range(n)]


def test_a_file_over_the_apis_limit_imports_through_the_cli(
    db: BoundDatabase, tenant: Tenant, tmp_path: Path
) -> None:
    bank = make_bank(db, tenant.id, "Large")
    content = json.dumps(numbered(2100)).encode()
    with pytest.raises(Invalid) as refused, db.unit_of_work(tenant.id) as uow:
        transfer.import_questions(uow, bank, "json", content)
    assert refused.value.extensions["problems"][0]["message"] == "at most 2000 questions per file"

    file = tmp_path / "large.json"
    file.write_bytes(content)
    code, out, err = run("bank", "import", str(file), "--tenant", tenant.slug, "--bank", "Large")
    assert code == 0, err
    assert out.startswith("imported 2100, skipped 0 exact duplicates")
    made = in_bank(db, tenant, bank)
    assert [q.body.prompt for _, q in made] == [f"Statement {i}" for i in range(2100)]
    assert imports(db, tenant)[-1].payload["count"] == 2100


def test_import_reports_its_progress_batch_by_batch(db: BoundDatabase, tenant: Tenant) -> None:
    bank = make_bank(db, tenant.id)
    told: list[tuple[str, int, int]] = []
    content = json.dumps(numbered(1100) + numbered(1)).encode()  # the last is a duplicate
    with db.unit_of_work(tenant.id) as uow:
        done = transfer.import_questions(
            uow, bank, "json", content, progress=lambda *p: told.append(p)
        )
    assert (len(done.made), done.skipped) == (1100, 1)
    assert told == [
        ("checking", 0, 0), ("checking", 500, 1101), ("checking", 1000, 1101),
        ("checking", 1101, 1101), ("writing", 0, 1100), ("writing", 500, 1100),
        ("writing", 1000, 1100), ("writing", 1100, 1100),
    ]  # fmt: skip


def test_on_a_terminal_the_import_shows_its_phases_on_stderr(
    db: BoundDatabase, tenant: Tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_bank(db, tenant.id, "Watched")
    file = tmp_path / "questions.csv"
    file.write_text(FILES["questions.csv"], newline="")
    monkeypatch.setattr("invigil.cli.banks._on_a_terminal", lambda: True)
    code, out, err = run("bank", "import", str(file), "--tenant", tenant.slug, "--bank", "Watched")
    assert code == 0 and out.startswith(f"imported {len(ALL)}, skipped 0")
    for label in ("reading the file", "checking items", "writing questions"):
        assert label in err
    assert "100%" in err and "writing questions" not in out


def test_the_bar_shows_each_phase_and_nothing_when_hidden(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with _Bar(True) as bar:
        bar("reading", 10, 10)
        bar("checking", 0, 0)
        bar("writing", 3, 4)
    captured = capsys.readouterr()
    assert captured.out == ""
    for label in ("reading the file", "checking items", "writing questions"):
        assert label in captured.err
    with _Bar(False) as bar:
        bar("writing", 3, 4)
    assert capsys.readouterr() == ("", "")


def test_the_format_comes_from_the_option_or_the_extension() -> None:
    assert _format(Path("a.JSON"), None) == "json" and _format(Path("a.csv"), None) == "csv"
    assert {_format(Path(f"a.{e}"), None) for e in ("xml", "qti", "zip")} == {"qti"}
    assert _format(Path("a.txt"), FileFormat.csv) == "csv"
    with pytest.raises(Invalid, match=r"cannot tell the format of 'a\.txt'"):
        _format(Path("a.txt"), None)


def test_qti_items_that_cannot_be_carried_are_listed_and_the_rest_imported(
    db: BoundDatabase, tenant: Tenant, tmp_path: Path
) -> None:
    bank = make_bank(db, tenant.id, "Mixed")
    text, _ = qti.dump([("Q-ok", sample("numeric")), ("Q-bad", sample("single_choice"))])
    file = tmp_path / "mixed.xml"
    file.write_text(text.replace("<qti-value>C2</qti-value>", "<qti-value>C9</qti-value>"))
    code, out, _ = run("bank", "import", str(file), "--tenant", tenant.slug, "--bank", "Mixed")
    assert code == 0
    assert out.startswith("imported 1, skipped 0")
    assert "not imported (1;" in out and "item Q-bad: its right answer 'C9'" in out
    assert len(in_bank(db, tenant, bank)) == 1
