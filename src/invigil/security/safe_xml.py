"""The one way Invigil reads XML someone else wrote.

The parser itself refuses every document type declaration (defusedxml with
``forbid_dtd``), so no entity is ever declared, expanded or fetched. The
refusal happens on what expat parsed, not on the text: a check of the text
for ``<!DOCTYPE`` misses a file whose bytes are in another encoding
(UTF-16 without a byte-order mark, announced only by its XML declaration),
which expat decodes and expands all the same. A test keeps every other XML
parse out of ``src/``; building XML (``ElementTree.SubElement``, ``tostring``)
reads nothing and needs no guard.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden
from defusedxml.ElementTree import fromstring

# How UTF-32 starts (byte-order mark, or "<" in either byte order): expat
# does not read it, so it is named rather than reported as a bad token.
_UTF32 = (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00", b"\x00\x00\x00<", b"<\x00\x00\x00")


class Refused(ValueError):
    """The document is not read; the message says why, for the person who sent it."""


def parse(data: bytes | str) -> ET.Element:
    """The root element of ``data``, which carries its own encoding (a
    byte-order mark or the XML declaration; UTF-8 or UTF-16), or
    :class:`Refused`."""
    if isinstance(data, bytes) and data.startswith(_UTF32):
        raise Refused("the file is UTF-32, which is not accepted; save it as UTF-8")
    try:
        root: ET.Element = fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DTDForbidden:
        raise Refused(
            "DOCTYPE declarations are not accepted (no DTD, no entities): remove it"
        ) from None
    except EntitiesForbidden:
        raise Refused("ENTITY declarations are not accepted: remove them") from None
    except DefusedXmlException:
        raise Refused("external references are not accepted") from None
    except ET.ParseError as exc:
        raise Refused(f"this is not well-formed XML ({exc})") from None
    except (ValueError, LookupError) as exc:  # an encoding expat cannot read (Shift_JIS)
        raise Refused(
            f"the file's encoding cannot be read ({exc}); save it as UTF-8 and try again"
        ) from None
    return root
