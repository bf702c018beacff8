"""Every word the player puts on the page is marked for translation.

``tests/player_strings.mjs`` parses the player's JavaScript with acorn (an
npm dev dependency: ``make node-deps``) and reports each string or template
literal with a letter in it that reaches the DOM without passing through
``t()``/``tn()``. A planted fixture shows that it finds each way text gets
onto the page, so a finding-free run of the real player means something."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNER = ROOT / "tests" / "player_strings.mjs"
PLAYER = ROOT / "src" / "invigil" / "web" / "static"
SOURCES = [*sorted((PLAYER / "player").glob("*.js")), PLAYER / "player.js"]

PLANTED = """
import { fill, h, say } from "./dom.js";
import { t, tn } from "./i18n.js";

export function planted(el, region, n, name) {
  el.textContent = "Unmarked text content";
  el.title = cond ? t("Marked tooltip") : "Unmarked tooltip";
  el.setAttribute("aria-label", `Unmarked label for ${name}`);
  el.setAttribute("class", "not-text-at-all");
  alert("Unmarked alert");
  h("button", { type: "button", "aria-label": "Unmarked aria", class: "quiet" }, "Unmarked child");
  fill(el, "Unmarked fill", t("Marked fill"), " · ");
  say(region, "Unmarked say " + name);
  el.append(tn("%(n)s question", "%(n)s questions", n), "Unmarked append");
  message(t("Marked title"), "Unmarked paragraph");
  this.notice("camera", "Unmarked notice");
  el.textContent = t("Marked text content");
  el.dataset.rule = "not shown";
  const url = `/take/${name}/api`;
}
"""

EXPECTED = [
    '"Unmarked text content"',
    '"Unmarked tooltip"',
    "`Unmarked label for ${name}`",
    '"Unmarked alert"',
    '"Unmarked aria"',
    '"Unmarked child"',
    '"Unmarked fill"',
    '"Unmarked say "',
    '"Unmarked append"',
    '"Unmarked paragraph"',
    '"Unmarked notice"',
]


def scan(*files: Path, mode: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node, "node is needed to parse the player (make node-deps installs it)"
    assert (ROOT / "node_modules" / "acorn").is_dir(), "run `make node-deps` (acorn)"
    run = subprocess.run(
        [node, str(SCANNER), *mode, *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    found: list[dict[str, Any]] = json.loads(run.stdout)
    return found


def test_the_scanner_finds_every_planted_unmarked_string(tmp_path: Path) -> None:
    planted = tmp_path / "planted.js"
    planted.write_text(PLANTED, encoding="utf-8")
    found = scan(planted)
    assert sorted(f["text"] for f in found) == sorted(EXPECTED)
    assert all(f["line"] > 1 for f in found)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_every_string_the_player_shows_is_marked_for_translation(source: Path) -> None:
    found = scan(source)
    assert not found, "mark these with t()/tn() and translate them:\n" + "\n".join(
        f"{f['file']}:{f['line']}:{f['column']} {f['text']}" for f in found
    )


def test_every_marked_player_string_reaches_the_catalogs() -> None:
    """Each t()/tn() call names its message with a plain string literal, and
    every one of them (inside a template literal's ${...} too) is in the
    extracted template, so no marked word stays English because the
    extractor missed it."""
    from babel.messages.pofile import read_po

    from invigil import i18n

    with i18n.template_path().open("rb") as f:
        template = read_po(f)
    known = {m.id if isinstance(m.id, str) else m.id[0] for m in template if m.id}
    calls = scan(*SOURCES, mode=("--marked",))
    assert len(calls) > 100
    for call in calls:
        where = f"{call['file']}:{call['line']}"
        assert all(isinstance(text, str) for text in call["texts"]), f"{where}: not a literal"
        assert call["texts"][0] in known, f"{where}: {call['texts'][0]!r} is not extracted"
    planted = [c for c in calls if c["texts"][0] == "Trying again…"]
    assert planted, "a message marked inside a template literal is found"
