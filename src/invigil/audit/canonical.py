"""RFC 8785 JSON Canonicalization Scheme (JCS) for auditors.

``canonical_json`` turns a JSON value into the one byte string every RFC 8785
implementation produces for it, so that a hash or signature over a JSON document can be
recomputed offline from the parsed value. Like ``invigil.audit.merkle`` it uses only the
Python standard library. The rules, as RFC 8785 section 3.2 states them:

* No whitespace between tokens; ``null``, ``true`` and ``false`` as literals.
* Strings (3.2.2.2) escape only ``"``, ``\\`` and the control characters U+0000 to
  U+001F: U+0008, U+0009, U+000A, U+000C and U+000D as ``\\b``, ``\\t``, ``\\n``,
  ``\\f`` and ``\\r``, the others as ``\\u00xx`` in lowercase hex. Every other character,
  U+007F and U+2028 included, is written as itself, and the result is UTF-8.
* Numbers (3.2.2.3) are written as ECMAScript's ``Number.prototype.toString`` writes
  IEEE 754 doubles: shortest round-trip digits, plain notation for decimal exponents
  from -7 to 21 exclusive, otherwise ``1e+21`` / ``1.5e-7`` style; ``-0`` becomes ``0``.
* Object members (3.2.3) are sorted by their names compared as arrays of UTF-16 code
  units, which is not the same as Python's code point order once characters beyond
  U+FFFF meet characters from U+E000 to U+FFFF.

What RFC 8785 (through I-JSON, RFC 7493) cannot represent is refused with
``ValueError``: NaN and infinities, Python ints outside ``+-(2**53 - 1)`` (they would not
survive the trip through a double), strings holding lone surrogates, and containers that
contain themselves. Values of other types, and object names that are not strings, raise
``TypeError``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Final, cast

__all__ = ["MAX_SAFE_INTEGER", "canonical_json"]

MAX_SAFE_INTEGER: Final = 2**53 - 1
"""The largest integer every reader holds exactly (ECMAScript ``Number.MAX_SAFE_INTEGER``)."""

_ESCAPES: Final[dict[str, str]] = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}
for _code in range(0x20):
    _ESCAPES.setdefault(chr(_code), f"\\u{_code:04x}")
del _code

_NEEDS_ESCAPE: Final = re.compile('[\\x00-\\x1f"\\\\]')
# What the json module's output may hold that RFC 8785 orders or refuses otherwise.
_WIDE: Final = re.compile("[\\ud800-\\udfff\\U00010000-\\U0010ffff]")
_SURROGATE: Final = re.compile("[\\ud800-\\udfff]")

# Kinds of work item in canonical_json's stack.
_VALUE: Final = 0
_TEXT: Final = 1
_CLOSE: Final = 2


def canonical_json(value: object) -> bytes:
    """Serialize ``value`` as RFC 8785 canonical JSON, returned as UTF-8 bytes.

    Accepts ``dict`` (with ``str`` keys), ``list``, ``tuple``, ``str``, ``int``,
    ``float``, ``bool`` and ``None``, nested to any depth (the walk uses an explicit
    stack, not recursion).

    Most values (no floats, integers within range, no character beyond U+FFFF and
    no surrogate) are written by the standard library's ``json`` module, whose
    output for them is exactly RFC 8785's: the same escapes, and Python's key order
    is UTF-16 order for such strings. Anything else is written by the walk below.
    """
    fast = plain_json(value)
    return _walk(value) if fast is None else fast


def plain_json(value: object) -> bytes | None:
    """:func:`canonical_json` of ``value`` when the standard library writes
    it (see there); None when it is not such a value (nested too deeply,
    circular, or holding a float, a wide character or a type other than
    dict, list, tuple, str, int in range, bool and None)."""
    try:
        if _plain(value):
            text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            if not _WIDE.search(text):
                return text.encode("utf-8")
    except (RecursionError, ValueError):
        pass  # deeply nested or circular: the walk says which
    return None


def _plain(value: object) -> bool:
    """Whether ``value`` holds only what ``json.dumps`` writes as RFC 8785 does."""
    if value is None or value is True or value is False or type(value) is str:
        return True
    if type(value) is int:
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if type(value) is dict:
        return all(type(k) is str for k in value) and all(_plain(v) for v in value.values())
    if type(value) is list or type(value) is tuple:
        return all(_plain(v) for v in value)
    return False


def _walk(value: object) -> bytes:
    out: list[str] = []
    open_containers: set[int] = set()  # ids of the containers being written, for cycles
    # Work items, last one first: (_VALUE, value), (_TEXT, text) or (_CLOSE, id).
    stack: list[tuple[int, object]] = [(_VALUE, value)]
    while stack:
        kind, item = stack.pop()
        if kind == _TEXT:
            out.append(cast(str, item))
        elif kind == _CLOSE:
            open_containers.discard(cast(int, item))
        elif item is None:
            out.append("null")
        elif item is True:
            out.append("true")
        elif item is False:
            out.append("false")
        elif isinstance(item, str):
            out.append(_string(item))
        elif isinstance(item, int):
            out.append(_integer(item))
        elif isinstance(item, float):
            out.append(_number(float(item)))
        elif isinstance(item, dict | list | tuple):
            marker = id(item)
            if marker in open_containers:
                raise ValueError("circular reference: a container holds itself")
            open_containers.add(marker)
            work: list[tuple[int, object]] = []
            if isinstance(item, dict):
                out.append("{")
                for position, (name, member) in enumerate(_sorted_members(item)):
                    separator = "," if position else ""
                    work.append((_TEXT, f"{separator}{_string(name)}:"))
                    work.append((_VALUE, member))
                work.append((_TEXT, "}"))
            else:
                out.append("[")
                for position, element in enumerate(item):
                    if position:
                        work.append((_TEXT, ","))
                    work.append((_VALUE, element))
                work.append((_TEXT, "]"))
            work.append((_CLOSE, marker))
            stack.extend(reversed(work))
        else:
            raise TypeError(f"{type(item).__name__} is not a JSON value")
    return "".join(out).encode("utf-8")


def _sorted_members(value: dict[object, object]) -> list[tuple[str, object]]:
    """The members of an object in RFC 8785 order: names as UTF-16 code unit arrays."""
    keyed: list[tuple[bytes, str, object]] = []
    for name, member in value.items():
        if not isinstance(name, str):
            raise TypeError(f"object names must be str, not {type(name).__name__}")
        # Big-endian UTF-16 bytes compare exactly like sequences of UTF-16 code units.
        keyed.append((name.encode("utf-16-be", "surrogatepass"), name, member))
    keyed.sort(key=lambda entry: entry[0])
    return [(name, member) for _, name, member in keyed]


def _string(value: str) -> str:
    text = str.__str__(value)
    if _SURROGATE.search(text):
        raise ValueError("string holds a lone surrogate, which I-JSON does not allow")
    return '"' + _NEEDS_ESCAPE.sub(lambda match: _ESCAPES[match.group()], text) + '"'


def _integer(value: int) -> str:
    number = int(value)
    if -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
        return str(number)
    raise ValueError(
        f"integer {number} is outside +-(2**53 - 1) and cannot be represented exactly in JSON"
    )


def _number(value: float) -> str:
    """``Number.prototype.toString`` (ECMAScript Number::toString) for a finite double."""
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a JSON number")
    if value == 0:
        return "0"  # and -0 too
    if value < 0:
        return "-" + _number(-value)
    # repr() gives the shortest digit string that reads back as the same double (picking
    # the one closest to it when several qualify), as ECMAScript requires. Only the
    # placement of the decimal point and the exponent differ, so recover the digits s
    # and the exponent n of x = 0.s * 10**n from it and lay them out the ES way.
    mantissa, _, exponent = float.__repr__(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    n = len(whole) + (int(exponent) if exponent else 0)
    significant = digits.lstrip("0")
    n -= len(digits) - len(significant)
    digits = significant.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    e = n - 1
    head = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{head}e{'+' if e >= 0 else '-'}{abs(e)}"
