"""Sections that packages above people add to the supporters page (people knows neither drills
nor alerts, so it cannot ask them itself): each registers, when it is imported, a function
that gets the district ids the page shows and returns a template and its context, or None
when it has nothing to show."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Panel:
    template: str  # included by templates/people/list.html with `panel` in its context
    context: dict[str, Any]


PanelSource = Callable[[Sequence[int]], Panel | None]

_sources: list[PanelSource] = []


def register_supporters_panel(source: PanelSource) -> None:
    if source not in _sources:
        _sources.append(source)


def supporters_panels(district_ids: Sequence[int]) -> list[Panel]:
    """The registered sections that have something to show for these districts."""
    panels = [source(district_ids) for source in _sources]
    return [p for p in panels if p is not None]
