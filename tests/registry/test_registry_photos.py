"""reencode_photo: only real images pass; the result is a clean JPEG (no EXIF, no GPS)."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image
from registry_support import GPS_IFD, jpeg_with_gps, png_bytes

from watchnet.registry.photos import PhotoError, reencode_photo


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_gps_camera_and_comment_are_removed_and_orientation_applied():
    original = jpeg_with_gps(size=(400, 300), orientation=6)
    assert _open(original).getexif().get_ifd(GPS_IFD)
    result = reencode_photo(original)
    image = _open(result.data)
    assert image.format == "JPEG"
    assert len(image.getexif()) == 0 and image.getexif().get_ifd(GPS_IFD) == {}
    assert set(image.info) <= {"jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi"}
    assert b"SecretPhone" not in result.data and b"home of the family" not in result.data
    assert (result.width, result.height) == image.size == (300, 400)
    # The blue half that was on the left is at the top after turning the photo upright.
    top = image.getpixel((150, 20))
    bottom = image.getpixel((150, 380))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] < bottom[0]


def test_large_photos_are_scaled_to_the_configured_side(app):
    app.config["PHOTO_MAX_SIDE_PX"] = 500
    try:
        result = reencode_photo(jpeg_with_gps(size=(2000, 1000)))
    finally:
        app.config["PHOTO_MAX_SIDE_PX"] = 1600
    assert (result.width, result.height) == (500, 250)


def test_a_transparent_png_becomes_a_white_jpeg():
    result = reencode_photo(png_bytes())
    image = _open(result.data)
    assert image.format == "JPEG" and image.mode == "RGB"
    pixel = image.getpixel((10, 10))
    assert isinstance(pixel, tuple) and min(pixel) > 240


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"GIF89a but not really",
        "写真です".encode() * 50,
        jpeg_with_gps()[:200],  # a cut-off JPEG
    ],
    ids=["empty", "fake-gif", "text", "truncated-jpeg"],
)
def test_anything_that_is_not_a_readable_image_is_refused(data):
    with pytest.raises(PhotoError):
        reencode_photo(data)


def test_too_many_bytes_is_refused_before_decoding():
    with pytest.raises(PhotoError, match="MB"):
        reencode_photo(jpeg_with_gps(), max_bytes=1000)


def test_an_image_claiming_huge_dimensions_is_refused():
    """A decompression bomb: a tiny file whose header says 10,000 × 10,000 pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", 10_000, 10_000, 8, 2, 0, 0, 0)
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )
    with pytest.raises(PhotoError):
        reencode_photo(bomb)
