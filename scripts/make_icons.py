"""Draw the installable app's icons once; the PNGs are committed under static/icons/.

    .venv/bin/python scripts/make_icons.py

The picture: a person inside an orange ring on the site header's navy (#123b5e). The orange
ring is the sign of Japan's dementia supporters (オレンジリング); the person is the one the
network watches over. Drawn with shapes only (no font), at four times the size and scaled
down, so the edges are smooth and the script gives the same files on any machine.

- icon-192.png, icon-512.png: purpose "any", a rounded square on transparent corners.
- maskable-192.png, maskable-512.png: purpose "maskable", full bleed; everything that
  matters lies inside the centre circle of 40 % radius that every launcher mask keeps.
- apple-touch-icon.png (180 px): iOS rounds the corners itself and shows transparency as
  black, so it is a full square without transparency.
- badge-96.png: Android's status-bar badge: white on transparent (only the alpha is used).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageChops, ImageDraw

NAVY = (18, 59, 94, 255)  # --site-header in static/css/app.css
ORANGE = (245, 130, 32, 255)
WHITE = (255, 255, 255, 255)
SCALE = 4  # supersampling factor
OUT = Path(__file__).resolve().parent.parent / "static" / "icons"


def _draw(size: int, *, extent: float, background: str, mono: bool = False) -> Image.Image:
    big = size * SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if background == "rounded":
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=int(big * 0.18), fill=NAVY)
    elif background == "square":
        draw.rectangle((0, 0, big, big), fill=NAVY)
    c = big / 2
    outer = extent * big
    ring_w = outer * 0.2
    ring_color = WHITE if mono else ORANGE
    person_color = WHITE
    draw.ellipse((c - outer, c - outer, c + outer, c + outer), fill=ring_color)
    inner = outer - ring_w
    hole = NAVY if background != "none" else (0, 0, 0, 0)
    draw.ellipse((c - inner, c - inner, c + inner, c + inner), fill=hole)
    # The person: a head and rounded shoulders, cut off by the ring's inner edge.
    head_r = inner * 0.27
    head_cy = c - inner * 0.22
    draw.ellipse((c - head_r, head_cy - head_r, c + head_r, head_cy + head_r), fill=person_color)
    body = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    body_draw = ImageDraw.Draw(body)
    shoulder_w = inner * 0.62
    top = head_cy + head_r + inner * 0.1
    body_draw.rounded_rectangle(
        (c - shoulder_w, top, c + shoulder_w, top + inner * 1.2),
        radius=int(shoulder_w * 0.9),
        fill=person_color,
    )
    mask = Image.new("L", (big, big), 0)
    ImageDraw.Draw(mask).ellipse((c - inner, c - inner, c + inner, c + inner), fill=255)
    image.paste(body, (0, 0), ImageChops.multiply(body.getchannel("A"), mask))
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    """Write every icon file into static/icons/."""
    OUT.mkdir(parents=True, exist_ok=True)
    icons = {
        "icon-192.png": _draw(192, extent=0.34, background="rounded"),
        "icon-512.png": _draw(512, extent=0.34, background="rounded"),
        # Maskable: the ring's outer radius (0.3) stays inside the 0.4 safe circle.
        "maskable-192.png": _draw(192, extent=0.30, background="square"),
        "maskable-512.png": _draw(512, extent=0.30, background="square"),
        "apple-touch-icon.png": _draw(180, extent=0.34, background="square").convert("RGB"),
        "badge-96.png": _draw(96, extent=0.46, background="none", mono=True),
    }
    for name, image in icons.items():
        image.save(OUT / name, "PNG", optimize=True)
        print(OUT / name, image.size, image.mode)


if __name__ == "__main__":
    main()
