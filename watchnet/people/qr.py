"""QR codes of personal sign-in links, as inline SVG: the supporter's page and card, and the
team handouts (teams/services.py)."""

from __future__ import annotations

import segno
from markupsafe import Markup


def qr_svg(data: str) -> Markup:
    """An inline SVG QR code sized by CSS (a viewBox, no width or height of its own).

    Only our own URLs go in, never user text, and segno writes plain SVG path data: safe."""
    code = segno.make(data, error="m", micro=False)
    return Markup(  # noqa: S704
        code.svg_inline(
            scale=1,
            border=4,
            omitsize=True,
            svgclass=None,
            lineclass=None,
            dark="#000",
            light="#fff",
        )
    )
