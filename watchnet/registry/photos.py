"""Checking and re-encoding uploaded photos. Used by the registry and by sighting reports.

A photo is accepted only when Pillow can decode it (never by file name or content type). It is
re-encoded as a fresh JPEG: the EXIF orientation is applied to the pixels first, then nothing of
the original file is carried over — no EXIF, no GPS, no ICC/XMP/comments — because a phone photo
of an elder usually carries the family's home position.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from flask import current_app, has_app_context
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_BYTES = 6 * 1024 * 1024
DEFAULT_MAX_SIDE_PX = 1600
JPEG_QUALITY = 85
# Decoding a huge image is a denial of service; no phone photo comes near this many pixels.
MAX_PIXELS = 80_000_000


class PhotoError(ValueError):
    """The upload is not a usable photo; the message is shown to the user as a field error."""


@dataclass(frozen=True)
class ProcessedPhoto:
    """A re-encoded JPEG without any metadata."""

    data: bytes
    width: int
    height: int
    content_type: str = "image/jpeg"


def _limits() -> tuple[int, int]:
    if has_app_context():
        cfg = current_app.config
        return (
            int(cfg.get("PHOTO_MAX_BYTES", DEFAULT_MAX_BYTES)),
            int(cfg.get("PHOTO_MAX_SIDE_PX", DEFAULT_MAX_SIDE_PX)),
        )
    return DEFAULT_MAX_BYTES, DEFAULT_MAX_SIDE_PX


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f}".rstrip("0").rstrip(".")


def photo_limit_mb() -> str:
    """The upload limit in MB as shown to users ("6")."""
    return _mib(_limits()[0])


def reencode_photo(
    data: bytes, *, max_bytes: int | None = None, max_side_px: int | None = None
) -> ProcessedPhoto:
    """Check that `data` is an image within the size limit and return it as a clean JPEG."""
    cfg_bytes, cfg_side = _limits()
    max_bytes = cfg_bytes if max_bytes is None else max_bytes
    max_side_px = cfg_side if max_side_px is None else max_side_px
    if not data:
        raise PhotoError(_("Please choose a photo."))
    if len(data) > max_bytes:
        raise PhotoError(_("The photo is too large (at most %(mb)s MB).", mb=_mib(max_bytes)))
    try:
        with warnings.catch_warnings():
            # Pillow warns (and our test settings turn warnings into errors) on big images;
            # the explicit pixel check below is the rule we want.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                probe.verify()  # structure check without decoding everything
            image: Image.Image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise PhotoError(_("The photo has too many pixels."))
            image.load()
    except PhotoError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise PhotoError(
            _("This file is not a photo we can read. Please choose a JPEG, PNG or similar image.")
        ) from None
    try:
        image = ImageOps.exif_transpose(image)
        if image.mode not in ("RGB", "L"):
            # Transparent areas become white rather than black.
            rgba = image.convert("RGBA")
            background = Image.new("RGB", rgba.size, (255, 255, 255))
            background.paste(rgba, mask=rgba.getchannel("A"))
            image = background
        image.thumbnail((max_side_px, max_side_px), Image.Resampling.LANCZOS)
        # A fresh image carries no .info (EXIF, ICC, comments, XMP) from the original.
        clean = Image.new(image.mode, image.size)
        clean.paste(image)
        out = io.BytesIO()
        clean.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    except (OSError, ValueError):
        raise PhotoError(
            _("This file is not a photo we can read. Please choose a JPEG, PNG or similar image.")
        ) from None
    return ProcessedPhoto(data=out.getvalue(), width=clean.width, height=clean.height)
