"""Question validation speaks to authors."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from invigil.content.schemas import QuestionIn, describe
from tests.content.factories import SAMPLES


def problems(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as exc:
        QuestionIn.model_validate(data)
    return "\n".join(describe(exc.value))


def with_body(kind: str, **body: Any) -> dict[str, Any]:
    s = SAMPLES[kind]
    return s | {"body": s["body"] | body}


@pytest.mark.parametrize(
    "data,expected",
    [
        (with_body("single_choice", correct=7), "the right answer must be one of the 4 choices"),
        (with_body("single_choice", choices=["A"]), "at least 2 items"),
        (with_body("single_choice", choices=["A", "a "]), "appears twice"),
        (with_body("multiple_choice", correct=[]), "at least 1 item"),
        (with_body("multiple_choice", correct=[1, 1]), "listed twice"),
        (with_body("multiple_choice", scoring="half"), "'all_or_nothing' or 'proportional'"),
        (with_body("numeric", tolerance=-1), "tolerance: must be at least 0"),
        (with_body("short_text", pattern="(unclosed"), "not a valid regular expression"),
        (with_body("short_text", pattern="(a+)+$"), "repeats a group that already repeats"),
        (with_body("short_text", pattern=r"(\w*\s?){3,}"), "repeats a group"),
        (with_body("short_text", accepted=[" "]), "every accepted answer needs some text"),
        (with_body("essay", rubric=[]), "at least 1 item"),
        (SAMPLES["essay"] | {"points": 5}, "rubric's best levels add up to 10 points"),
        (with_body("ordering", items=["x", "x"]), "appears twice"),
        (with_body("matching", pairs=[{"left": "a", "right": "b"}]), "at least 2 items"),
        (with_body("true_false", colour="red"), "body.colour: this field is not known here"),
        (with_body("single_choice", type="essay_plus"), "unknown question type 'essay_plus'"),
        (SAMPLES["true_false"] | {"points": 0}, "points: must be more than 0"),
        (SAMPLES["true_false"] | {"points": 1.234}, "at most two decimals"),
        (SAMPLES["true_false"] | {"category": "  "}, "the category needs some text"),
        ({"points": 1, "body": SAMPLES["true_false"]["body"]}, "category: this field is required"),
    ],
)
def test_invalid_questions_explain_themselves(data: dict[str, Any], expected: str) -> None:
    assert expected in problems(data)


def test_tags_are_trimmed_lowercased_and_unique() -> None:
    q = QuestionIn.model_validate(SAMPLES["true_false"] | {"tags": [" Europe ", "europe", "EU"]})
    assert q.tags == ["europe", "eu"]


def test_validation_messages_read_as_an_author_would_write_them() -> None:
    from pydantic import BaseModel, Field, ValidationError

    from invigil.content.schemas import describe

    class Form(BaseModel):
        points: float = Field(gt=0)
        count: int = Field(ge=1, le=10)
        name: str = Field(min_length=1, max_length=5)

    for data, expected in [
        ({"points": "abc", "count": 1, "name": "a"}, "points: must be a number, such as 2 or 2.5"),
        ({"points": 0, "count": 1, "name": "a"}, "points: must be more than 0"),
        ({"points": 1, "count": "x", "name": "a"}, "count: must be a whole number, such as 3"),
        ({"points": 1, "count": 11, "name": "a"}, "count: must be at most 10"),
        ({"points": 1, "count": 1, "name": ""}, "name: must not be empty"),
        ({"points": 1, "count": 1, "name": "abcdef"}, "name: must be at most 5 characters"),
    ]:
        try:
            Form.model_validate(data)
        except ValidationError as exc:
            assert describe(exc) == [expected]
        else:
            raise AssertionError(f"{data} was accepted")
