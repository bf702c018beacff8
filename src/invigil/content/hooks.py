"""What content provides to the layers below it (docs/adr/0019-layers.md).

Installed when the content package is imported (its ``__init__``); the
shell imports every domain at start-up.
"""

from __future__ import annotations

from invigil.content import home as home_widgets


def install() -> None:
    home_widgets.install()
