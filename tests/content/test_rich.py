"""Formatted question text: only the safe subset survives, formulas are kept
as MathML, the same text is always the same string, and the plain prompt says
what the formatted text says."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invigil.content import rich
from invigil.content.bodies import BODY


def unsafe(cleaned: str) -> list[str]:
    """Every element or attribute outside the allowed subset in ``cleaned``."""
    found = []
    for el in rich.tree(cleaned).iter():
        if el.tag != "root" and el.tag not in rich.TAGS:
            found.append(el.tag)
        allowed = rich.ATTRIBUTES["*"] | rich.ATTRIBUTES.get(el.tag, set())
        found += [f"{el.tag}@{a}" for a in el.attrib if a not in allowed]
    return found


ATTACKS = [
    "<script>alert(1)</script>",
    "<p onclick=alert(1)>x</p>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<math><maction actiontype="statusline" xlink:href="javascript:alert(1)">x</maction></math>',
    "<style>body{display:none}</style><p style='position:fixed'>x</p>",
    "<iframe src=//evil></iframe>",
    '<form action="//evil"><input name=p></form>',
    "<noscript><p title='</noscript><img src=x onerror=alert(1)>'></noscript>",
    "<!--<img src=x onerror=alert(1)>-->",
    '<math href="javascript:alert(1)"><mi>x</mi></math>',
    "<template><script>alert(1)</script></template>",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_nothing_that_runs_loads_or_styles_survives(attack: str) -> None:
    cleaned = rich.clean(attack)
    assert unsafe(cleaned) == [], cleaned
    assert not re.search(r"<(script|style|img|svg|iframe|a)\b|\son\w+=", cleaned), cleaned
    assert rich.clean(cleaned) == cleaned


def test_formulas_tables_and_lists_are_kept() -> None:
    html = (
        "<h3>Task</h3><p>Solve <math display='block'><mfrac><mn>1</mn><mi>x</mi></mfrac>"
        "<mo>=</mo><msqrt><mn>2</mn></msqrt></math> for <var>x</var>.</p>"
        "<ol start='3'><li>first</li></ol><table><tr><th scope='col'>a</th></tr></table>"
        "<pre><code>print(1)</code></pre>"
    )
    cleaned = rich.clean(html)
    assert '<math display="block"><mfrac><mn>1</mn><mi>x</mi></mfrac>' in cleaned
    assert '<ol start="3">' in cleaned and '<th scope="col">a</th>' in cleaned
    assert "<pre><code>print(1)</code></pre>" in cleaned
    assert rich.text_of(cleaned) == ("Task\n\nSolve (1)/(x)=√(2) for x.\n\nfirst\n\na\n\nprint(1)")


def test_the_same_text_is_the_same_string_whatever_its_white_space() -> None:
    tight = "<p>x</p><table><tbody><tr><td>1</td></tr></tbody></table>"
    loose = "\n<p>x</p>\n   <table>\n <tr>\n   <td>1</td>\n </tr>\n</table>\n"
    assert rich.clean(loose) == rich.clean(tight) == tight
    assert rich.clean("<math>\n <mi> a </mi>\n</math>") == "<p><math><mi>a</mi></math></p>"
    # white space between words shows, and is kept
    assert rich.clean("<p><em>a</em> <strong>b</strong></p>") == (
        "<p><em>a</em> <strong>b</strong></p>"
    )


def test_words_outside_blocks_become_paragraphs() -> None:
    assert rich.clean("E = m<math><msup><mi>c</mi><mn>2</mn></msup></math>") == (
        "<p>E = m<math><msup><mi>c</mi><mn>2</mn></msup></math></p>"
    )
    assert rich.clean("a<p>b</p>c") == "<p>a</p><p>b</p><p>c</p>"
    assert rich.clean("<p> </p><p>kept</p><div></div>") == "<p>kept</p>"


def test_only_the_questions_own_images_survive_with_plain_sizes() -> None:
    name = "a" * 64
    cleaned = rich.clean(
        f'<p><img src="question-image:{name}" alt="map" width="120" height="1e9">'
        '<img src="https://tracker.example/x.png" alt="pixel"><img src="x.png"></p>'
    )
    assert cleaned == f'<p><img src="question-image:{name}" alt="map" width="120">[pixel]</p>'
    assert rich.image_names(cleaned) == [name]
    assert rich.with_image_addresses(cleaned, {}) == "<p>[map][pixel]</p>"


def test_plain_paragraphs_need_no_formatting() -> None:
    assert rich.is_plain(rich.clean("<p>one</p><p>two<br>three</p>"))
    assert not rich.is_plain(rich.clean("<p><em>one</em></p>"))
    assert not rich.is_plain(rich.clean("<p><math><mi>x</mi></math></p>"))


def test_a_body_with_formatted_text_takes_its_words_as_the_prompt() -> None:
    body = BODY.validate_python(
        {
            "type": "numeric",
            "prompt": "something else",
            "prompt_html": "<p onclick=x>Is <math><msqrt><mn>2</mn></msqrt><mo>&lt;</mo>"
            "<mn>2</mn></math>?</p>",
            "value": 1,
        }
    )
    assert body.prompt == "Is √(2)<2?"
    assert body.prompt_html == (
        "<p>Is <math><msqrt><mn>2</mn></msqrt><mo>&lt;</mo><mn>2</mn></math>?</p>"
    )
    plain = BODY.validate_python({"type": "numeric", "prompt": "2+2?", "value": 4})
    assert plain.prompt_html is None
    with pytest.raises(ValueError, match="at most 50000 characters"):
        BODY.validate_python({"type": "numeric", "prompt_html": "x" * 50_001, "value": 1})


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["<p>", "</p>", "<math>", "</math>", "<mi>", "x", " ", "\n", "<script>", "<img src=y>",
             "<table>", "<tr>", "<td>", "</td>", "<em>", "</em>", "&lt;", "<style>", "on", "=",
             "<br>", "<ul><li>", "<!--", "-->", "<svg>", '"', "'", "<a href=", "javascript:"]
        ),
        max_size=30,
    ).map("".join)
)  # fmt: skip
def test_cleaning_is_safe_and_settled_for_any_input(html: str) -> None:
    once = rich.clean(html)
    assert unsafe(once) == [], once
    assert not re.search(r"<(script|style|img|svg|iframe|a)\b|\son\w+=", once), once
    assert rich.clean(once) == once
    rich.text_of(once)  # always readable
