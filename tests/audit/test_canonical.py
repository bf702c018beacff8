"""Tests for invigil.audit.canonical against RFC 8785 (JSON Canonicalization Scheme)."""

from __future__ import annotations

import json
import math
import random
import re
import struct
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invigil.audit.canonical import MAX_SAFE_INTEGER, canonical_json


def _double(ieee_hex: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(ieee_hex))[0]
    return value


# --------------------------------------------------------------------------------------
# RFC 8785 examples
# --------------------------------------------------------------------------------------

# RFC 8785 Appendix B: IEEE 754 double (big-endian hex) -> canonical JSON number.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),  # minus zero
    ("0000000000000001", "5e-324"),  # min positive (subnormal)
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),  # max
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),  # 2**53
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),  # 2**68
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("ieee_hex", "expected"), APPENDIX_B)
def test_rfc8785_appendix_b_numbers(ieee_hex: str, expected: str) -> None:
    value = _double(ieee_hex)
    assert canonical_json(value) == expected.encode()
    assert canonical_json([value]) == f"[{expected}]".encode()


@pytest.mark.parametrize("ieee_hex", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
def test_rfc8785_appendix_b_nan_and_infinity_are_errors(ieee_hex: str) -> None:
    with pytest.raises(ValueError):
        canonical_json(_double(ieee_hex))
    with pytest.raises(ValueError):
        canonical_json({"a": [1, _double(ieee_hex)]})


def test_rfc8785_section_3_2_2_sample() -> None:
    # The input of section 3.2.2, as the Python value a JSON parser would produce:
    # "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/" decodes to these characters.
    value = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": '\u20ac$\x0f\nA\'B"\\\\"/',
        "literals": [None, True, False],
    }
    expected = (
        '{"literals":[null,true,false],'
        '"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(value) == expected.encode("utf-8")
    # The same from the JSON text of the RFC, through json.loads.
    text = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    assert canonical_json(json.loads(text)) == expected.encode("utf-8")


# Section 3.2.3. The RFC writes the keys as JSON escapes; in a Python str the JSON
# escape "\ud83d\ude00" (a UTF-16 surrogate pair) is the single character U+1F600.
SORTING_SAMPLE = {
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\U0001f600": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis",
}


def test_rfc8785_section_3_2_3_property_sorting() -> None:
    expected = (
        '{"\\r":"Carriage Return",'
        '"1":"One",'
        '"\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis",'
        '"\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face",'
        '"\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert canonical_json(SORTING_SAMPLE) == expected.encode("utf-8")
    rfc_text = (
        '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return",'
        ' "\\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One",'
        ' "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control",'
        ' "\\u00f6": "Latin Small Letter O With Diaeresis"}'
    )
    assert canonical_json(json.loads(rfc_text)) == expected.encode("utf-8")


def test_names_sort_by_utf16_code_units_not_code_points() -> None:
    # U+1F600 is D83D DE00 in UTF-16, so it sorts before U+E000..U+FFFF even though its
    # code point is larger; Python's own str order would put it last.
    value = {"\uffff": 1, "\U0001f600": 2, "\ufb33": 3, "\ue000": 4, "\u00e9": 5, "z": 6}
    out = canonical_json(value).decode("utf-8")
    names = re.findall(r'"([^"]*)":', out)
    assert names == ["z", "\u00e9", "\U0001f600", "\ue000", "\ufb33", "\uffff"]
    assert sorted(value) != names  # code point order differs


def test_sorting_sample_with_more_latin_letters() -> None:
    value = {**SORTING_SAMPLE, "\u00e9": "Latin Small Letter E With Acute", "e": "e"}
    out = canonical_json(value).decode("utf-8")
    values = re.findall(r':"([^"]*)"', out)
    assert values == [
        "Carriage Return",
        "One",
        "e",
        "Control",
        "Latin Small Letter E With Acute",
        "Latin Small Letter O With Diaeresis",
        "Euro Sign",
        "Emoji: Grinning Face",
        "Hebrew Letter Dalet With Dagesh",
    ]


# --------------------------------------------------------------------------------------
# Strings
# --------------------------------------------------------------------------------------


def test_string_escapes() -> None:
    short = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
    for code in range(0x20):
        char = chr(code)
        expected = short.get(char, f"\\u{code:04x}")
        assert canonical_json(char) == f'"{expected}"'.encode()
    assert canonical_json('"') == b'"\\""'
    assert canonical_json("\\") == b'"\\\\"'
    # Everything else is literal UTF-8: DEL, "/", line/paragraph separators, non-BMP.
    for char in ["\x7f", "/", "\u2028", "\u2029", "\u00e9", "\U0001f600", "<", "'", "\ufeff"]:
        assert canonical_json(char) == f'"{char}"'.encode()
    assert canonical_json("\x1f") == b'"\\u001f"'  # lowercase hex
    assert canonical_json("") == b'""'


@pytest.mark.parametrize(
    "bad", ["\ud800", "a\udfffb", "\ud83d\ude00", {"\udc00": 1}, ["ok", "\ud83d"]]
)
def test_lone_surrogates_are_rejected(bad: object) -> None:
    # Note "\ud83d\ude00" in Python source is two lone surrogates, not U+1F600.
    with pytest.raises(ValueError, match="lone surrogate"):
        canonical_json(bad)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_strings_match_python_json_without_ascii_escaping(text: str) -> None:
    # json.dumps(ensure_ascii=False) escapes exactly the same set the same way.
    assert canonical_json(text) == json.dumps(text, ensure_ascii=False).encode("utf-8")


# --------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0"),
        (-0.0, "0"),
        (0.0, "0"),
        (1, "1"),
        (-1, "-1"),
        (1.0, "1"),
        (-1.5, "-1.5"),
        (123.456, "123.456"),
        (0.1, "0.1"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1.5e21, "1.5e+21"),
        (1e-6, "0.000001"),
        (1.5e-6, "0.0000015"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (1e300, "1e+300"),
        (-1e-300, "-1e-300"),
        (2.0**60, "1152921504606847000"),
        (12345678901234567890.0, "12345678901234567000"),
        (MAX_SAFE_INTEGER, "9007199254740991"),
        (-MAX_SAFE_INTEGER, "-9007199254740991"),
        (float(MAX_SAFE_INTEGER), "9007199254740991"),
        (100, "100"),
        (1e16, "10000000000000000"),
    ],
)
def test_number_formatting(value: float, expected: str) -> None:
    assert canonical_json(value) == expected.encode()


@pytest.mark.parametrize("value", [2**53, -(2**53), 2**64, -(10**30)])
def test_integers_beyond_the_safe_range_are_rejected(value: int) -> None:
    with pytest.raises(ValueError, match="2\\*\\*53"):
        canonical_json(value)
    with pytest.raises(ValueError):
        canonical_json({"n": value})


def test_booleans_are_literals_not_numbers() -> None:
    assert canonical_json([True, False, None, 1, 0]) == b"[true,false,null,1,0]"
    assert canonical_json({"t": True}) == b'{"t":true}'


def _shortest_decimal(x: float) -> Decimal:
    """The decimal ECMAScript prints for x > 0, found by brute force from the spec text:
    the fewest significant digits that read back as x, and among those the closest."""
    exact = Decimal(x)
    for precision in range(1, 18):
        nearest = Decimal(f"{x:.{precision - 1}e}")  # correctly rounded to `precision`
        step = Decimal(1).scaleb(nearest.adjusted() - precision + 1)
        candidates = [c for c in (nearest - step, nearest, nearest + step) if float(c) == x]
        if candidates:
            return min(candidates, key=lambda c: (abs(c - exact), c.as_tuple().digits[-1] % 2))
    raise AssertionError("17 significant digits always round-trip")


def _es_number_to_string(x: float) -> str:
    """ECMAScript Number::toString (ECMA-262, Number::toString), written from the spec."""
    if x == 0:
        return "0"
    if x < 0:
        return "-" + _es_number_to_string(-x)
    _, digits, exponent = _shortest_decimal(x).normalize().as_tuple()
    assert isinstance(exponent, int)
    s = "".join(map(str, digits))
    k = len(s)
    n = exponent + k  # x = s * 10**(n - k), with 10**(k-1) <= s < 10**k
    if k <= n <= 21:
        return s + "0" * (n - k)
    if 0 < n <= 21:
        return s[:n] + "." + s[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + s
    sign = "+" if n - 1 >= 0 else "-"
    if k == 1:
        return f"{s}e{sign}{abs(n - 1)}"
    return f"{s[0]}.{s[1:]}e{sign}{abs(n - 1)}"


@settings(max_examples=500, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_match_an_independent_es_formatter_and_round_trip(x: float) -> None:
    out = canonical_json(x).decode()
    assert out == _es_number_to_string(x)
    assert float(out) == x
    # ES layout: plain notation exactly for 1e-6 <= |x| < 1e21 (and 0).
    assert ("e" in out) == (x != 0 and not 1e-6 <= abs(x) < 1e21)
    assert re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?(e[+-][1-9][0-9]*)?", out)


def test_neighbours_of_the_appendix_b_values() -> None:
    """Fifty doubles either side of each Appendix B value agree with the spec formatter."""
    checked = 0
    for ieee_hex, expected in APPENDIX_B:
        assert _es_number_to_string(_double(ieee_hex)) == expected
        bits = int(ieee_hex, 16)
        for neighbour in range(bits - 50, bits + 51):
            if 0 <= neighbour < 2**64:
                y = _double(f"{neighbour:016x}")
                if math.isfinite(y):
                    assert canonical_json(y).decode() == _es_number_to_string(y)
                    checked += 1
    assert checked > 2000


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER))
def test_safe_integers_and_their_float_twins_agree(n: int) -> None:
    assert canonical_json(n) == str(n).encode()
    assert canonical_json(float(n)) == str(n).encode()


# --------------------------------------------------------------------------------------
# Structure and types
# --------------------------------------------------------------------------------------


def test_structures() -> None:
    assert canonical_json({}) == b"{}"
    assert canonical_json([]) == b"[]"
    assert canonical_json(()) == b"[]"
    assert canonical_json(None) == b"null"
    assert canonical_json((1, [2, (3,)], {"b": {}, "a": []})) == b'[1,[2,[3]],{"a":[],"b":{}}]'
    nested = {"b": [{"z": 1, "y": {"d": None, "c": "x"}}], "a": {"k": [1.5, "s"]}}
    assert canonical_json(nested) == b'{"a":{"k":[1.5,"s"]},"b":[{"y":{"c":"x","d":null},"z":1}]}'


def test_output_is_utf8_bytes() -> None:
    out = canonical_json({"\u00e9": "\U0001f600"})
    assert isinstance(out, bytes)
    assert out == '{"\u00e9":"\U0001f600"}'.encode()
    assert out == b'{"\xc3\xa9":"\xf0\x9f\x98\x80"}'


@pytest.mark.parametrize(
    "bad",
    [
        {1: "x"},
        {("a",): 1},
        {None: 1},
        {b"a": 1},
        b"bytes",
        {1, 2},
        object(),
        Decimal("1.5"),
        1j,
        [1, object()],
        {"ok": {"deeper": {2: 3}}},
    ],
)
def test_unsupported_types_raise_type_error(bad: object) -> None:
    with pytest.raises(TypeError):
        canonical_json(bad)


def test_circular_references_raise_value_error() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    with pytest.raises(ValueError, match="circular"):
        canonical_json(loop)
    cyclic: dict[str, Any] = {}
    cyclic["self"] = {"again": cyclic}
    with pytest.raises(ValueError, match="circular"):
        canonical_json(cyclic)
    shared = [1, 2]
    assert canonical_json([shared, shared, {"a": shared}]) == b'[[1,2],[1,2],{"a":[1,2]}]'


def test_deep_nesting_does_not_hit_the_recursion_limit() -> None:
    value: Any = "leaf"
    for _ in range(20_000):
        value = [value]
    assert canonical_json(value) == b"[" * 20_000 + b'"leaf"' + b"]" * 20_000
    value = 1
    for _ in range(5_000):
        value = {"k": value}
    assert canonical_json(value) == b'{"k":' * 5_000 + b"1" + b"}" * 5_000


def test_subclasses_of_builtin_types_serialize_as_their_base() -> None:
    class Name(str):
        def __str__(self) -> str:
            return "wrong"

    class Count(int):
        def __str__(self) -> str:
            return "wrong"

    class Amount(float):
        def __repr__(self) -> str:
            return "wrong"

    assert canonical_json({Name("n"): [Count(3), Amount(1.5), Name("v")]}) == b'{"n":[3,1.5,"v"]}'


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------

safe_ints = st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
json_values = st.recursive(
    st.none() | st.booleans() | safe_ints | finite_floats | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


def _plain(value: object) -> object:
    """What json.loads gives back: tuples become lists."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _es_loads(data: bytes) -> object:
    """Parse as ECMAScript JSON.parse does: every number is a double."""
    return json.loads(data, parse_int=float)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_output_is_json_that_reads_back_to_an_equal_value(value: object) -> None:
    out = canonical_json(value)
    assert _es_loads(out) == _plain(value)
    if _within_python_int_range(value):
        assert json.loads(out) == _plain(value)
    # No whitespace outside string literals.
    between_strings = re.sub(rb'"(?:[^"\\]|\\.)*"', b'""', out)
    assert not re.search(rb"\s", between_strings)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_canonicalization_is_idempotent(value: object) -> None:
    out = canonical_json(value)
    # With every number read as a double (ECMAScript, I-JSON) it is a fixed point.
    assert canonical_json(_es_loads(out)) == out


def _within_python_int_range(value: object) -> bool:
    """False if value holds a float that prints as an integer beyond 2**53 - 1, which
    Python's json.loads reads back as an int that canonical_json then refuses."""
    if isinstance(value, float):
        return not (value.is_integer() and MAX_SAFE_INTEGER < abs(value) < 1e21)
    if isinstance(value, list | tuple):
        return all(_within_python_int_range(v) for v in value)
    if isinstance(value, dict):
        return all(_within_python_int_range(v) for v in value.values())
    return True


@settings(max_examples=200, deadline=None)
@given(json_values.filter(_within_python_int_range))
def test_canonicalization_is_idempotent_through_python_json(value: object) -> None:
    out = canonical_json(value)
    assert canonical_json(json.loads(out)) == out


def test_large_integral_floats_are_not_idempotent_through_python_json() -> None:
    # Documented limitation: 1e20 prints as 100000000000000000000, which json.loads
    # returns as a Python int beyond 2**53 - 1 and canonical_json refuses.
    out = canonical_json(1e20)
    assert canonical_json(_es_loads(out)) == out
    with pytest.raises(ValueError):
        canonical_json(json.loads(out))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=8), st.randoms())
def test_input_key_order_never_matters(value: dict[str, object], rng: random.Random) -> None:
    items = list(value.items())
    rng.shuffle(items)
    shuffled = dict(items)
    assert canonical_json(shuffled) == canonical_json(value)
    assert canonical_json({"outer": shuffled, "list": [shuffled]}) == canonical_json(
        {"list": [value], "outer": value}
    )


# Values the json module writes (the fast path) and values it must not: floats,
# integers out of range, characters beyond U+FFFF and the U+E000-U+FFFF they
# sort against, control characters, nesting.
_KEYS = st.text(alphabet=st.sampled_from(["a", "B", "é", "\ue000", "\U0001f600", "\n", "\x7f"]))
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_JSON = st.recursive(
    _LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_JSON)
def test_the_fast_path_writes_what_the_walk_writes(value: Any) -> None:
    """canonical_json hands most values to the json module; for every value,
    what it writes (or refuses) is what the RFC 8785 walk writes (or refuses)."""
    from invigil.audit.canonical import _walk

    try:
        expected: bytes | type[Exception] = _walk(value)
    except (ValueError, TypeError) as exc:
        expected = type(exc)
    try:
        got: bytes | type[Exception] = canonical_json(value)
    except (ValueError, TypeError) as exc:
        got = type(exc)
    assert got == expected
