"""The per-answer size cap counts the bytes stored (UTF-8), so a
full-length essay in any script fits."""

from __future__ import annotations

from invigil.delivery import answers

ESSAY = {"type": "essay"}


def test_a_full_length_essay_outside_ascii_is_accepted() -> None:
    for letter in ("é", "ж", "漢", "😀"):
        assert answers.check(ESSAY, letter * answers.MAX_ESSAY) is None, letter
