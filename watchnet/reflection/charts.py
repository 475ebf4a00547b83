"""The timings chart, drawn by the app as hand-written SVG (no external service, no library).

One row per encounter (checkpoint and team), three bars: noticed → approached from the front,
→ contacted, → handed over. A missing step is written as "missing", never drawn as a zero bar.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from flask_babel import gettext as _
from markupsafe import Markup

from watchnet.core.timefmt import format_duration
from watchnet.reflection.timings import (
    TIMING_KEYS,
    CheckpointRecord,
    EncounterTiming,
    TeamRecord,
)

# Okabe–Ito colours: distinguishable for common colour-vision differences.
BAR_COLORS = {"to_approach_s": "#0072B2", "to_contact_s": "#E69F00", "to_handover_s": "#009E73"}
WIDTH = 760
LABEL_W = 230
RIGHT_PAD = 70
BAR_H = 12
ROW_GAP = 14
TOP = 56
AXIS_H = 30


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def timing_labels() -> dict[str, str]:
    """Translated names of the three timings."""
    return {
        "to_approach_s": _("Noticed → approached"),
        "to_contact_s": _("Noticed → contacted"),
        "to_handover_s": _("Noticed → handed over"),
    }


def _tick_step(max_s: float) -> int:
    for step in (15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if max_s / step <= 8:
            return step
    return 7200


def timings_chart_svg(
    encounters: Sequence[EncounterTiming],
    checkpoints: Sequence[CheckpointRecord],
    teams: Sequence[TeamRecord],
) -> Markup:
    """An SVG bar chart of the timings per checkpoint and team (markup for a page)."""
    labels = timing_labels()
    cp_names = {cp.id: cp.name for cp in checkpoints}
    cp_numbers = {
        cp.id: i for i, cp in enumerate(sorted(checkpoints, key=lambda c: (c.seq, c.id)), start=1)
    }
    team_by_id = {t.id: t for t in teams}
    values = [e.timing(k) for e in encounters for k, _k in TIMING_KEYS]
    max_s = max([v for v in values if v is not None and v > 0] + [60.0])
    tick = _tick_step(max_s)
    max_s = ((int(max_s) + tick - 1) // tick) * tick
    plot_w = WIDTH - LABEL_W - RIGHT_PAD
    row_h = 3 * BAR_H + ROW_GAP
    height = TOP + max(len(encounters), 1) * row_h + AXIS_H

    def x(seconds: float) -> float:
        return LABEL_W + max(seconds, 0.0) / max_s * plot_w

    title = _("Timings per checkpoint and team")
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timings-chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'font-family="sans-serif" font-size="12" aria-labelledby="chart-title">',
        f'<title id="chart-title">{_esc(title)}</title>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#fff"/>',
    ]
    # Legend
    lx = LABEL_W
    for key, _k in TIMING_KEYS:
        out.append(f'<rect x="{lx}" y="10" width="12" height="12" fill="{BAR_COLORS[key]}"/>')
        out.append(f'<text x="{lx + 16}" y="20">{_esc(labels[key])}</text>')
        lx += 170
    # Grid and axis (minutes:seconds)
    axis_y = TOP + max(len(encounters), 1) * row_h
    for s in range(0, int(max_s) + 1, tick):
        gx = x(s)
        out.append(
            f'<line x1="{gx:.1f}" y1="{TOP - 6}" x2="{gx:.1f}" y2="{axis_y}" stroke="#ddd"/>'
        )
        out.append(
            f'<text x="{gx:.1f}" y="{axis_y + 16}" text-anchor="middle" '
            f'fill="#444">{format_duration(s)}</text>'
        )
    if not encounters:
        out.append(
            f'<text x="{LABEL_W}" y="{TOP + 20}" fill="#444">'
            f"{_esc(_('No encounter steps were logged.'))}</text>"
        )
    for row, enc in enumerate(encounters):
        y0 = TOP + row * row_h
        team = team_by_id.get(enc.team_id)
        number = cp_numbers.get(enc.checkpoint_id, 0)
        name = f"{number}. {cp_names.get(enc.checkpoint_id, '')}"
        out.append(
            f'<text x="{LABEL_W - 8}" y="{y0 + BAR_H + 2}" text-anchor="end" '
            f'font-weight="bold" class="user-text">{_esc(name)}</text>'
        )
        if team is not None:
            out.append(
                f'<rect x="{LABEL_W - 8 - 10}" y="{y0 + BAR_H + 8}" width="10" '
                f'height="10" fill="{_esc(team.color)}"/>'
            )
            out.append(
                f'<text x="{LABEL_W - 22}" y="{y0 + 2 * BAR_H + 5}" '
                f'text-anchor="end" class="user-text">{_esc(team.name)}</text>'
            )
        for i, (key, _k) in enumerate(TIMING_KEYS):
            by = y0 + i * BAR_H
            value = enc.timing(key)
            if value is None:
                out.append(
                    f'<text x="{LABEL_W + 4}" y="{by + BAR_H - 2}" fill="#777" '
                    f'font-style="italic" class="missing">'
                    f"{_esc(labels[key])}: {_esc(_('missing'))}</text>"
                )
                continue
            width = max(x(value) - LABEL_W, 1.0)
            out.append(
                f'<rect x="{LABEL_W}" y="{by + 1}" width="{width:.1f}" '
                f'height="{BAR_H - 2}" fill="{BAR_COLORS[key]}">'
                f"<title>{_esc(labels[key])}: {format_duration(value)}</title></rect>"
            )
            out.append(
                f'<text x="{LABEL_W + width + 4:.1f}" y="{by + BAR_H - 2}" '
                f'fill="#222">{format_duration(value)}</text>'
            )
    out.append(
        f'<line x1="{LABEL_W}" y1="{axis_y}" x2="{LABEL_W + plot_w}" y2="{axis_y}" stroke="#444"/>'
    )
    out.append("</svg>")
    # Every piece of user text above went through _esc.
    return Markup("\n".join(out))  # noqa: S704
