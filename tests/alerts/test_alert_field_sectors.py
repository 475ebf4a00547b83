"""Search sectors: the H3 cells cover the search circle, grow with it, and keep their ids."""

from __future__ import annotations

import h3
from alert_core_support import CENTRE, point_at

from watchnet.alerts.sectors import SectorState, cell_of, sector_cells, short_name


def test_cells_cover_every_point_of_the_circle_and_little_more() -> None:
    cells = set(sector_cells(*CENTRE, 1200, 8))
    for distance in (0, 300, 600, 900, 1150, 1199):
        for bearing in range(0, 360, 15):
            assert cell_of(*point_at(distance, bearing), 8) in cells, (distance, bearing)
    # No cell lies wholly outside: every one has its centre or a corner within the radius
    # plus one cell's width.
    edge = h3.average_hexagon_edge_length(8, unit="m")
    far = point_at(1200 + 2.5 * edge, 0)
    assert cell_of(*far, 8) not in cells
    assert 10 <= len(cells) <= 40


def test_widening_keeps_the_same_cells_and_adds_around_them() -> None:
    small = set(sector_cells(*CENTRE, 1200, 8))
    large = set(sector_cells(*CENTRE, 5000, 8))
    assert small < large
    assert all(h3.get_resolution(c) == 8 for c in large)


def test_a_zero_radius_is_the_cell_of_the_point() -> None:
    assert sector_cells(*CENTRE, 0, 8) == [cell_of(*CENTRE, 8)]


def test_state_names_and_short_names() -> None:
    assert SectorState(cell="x").state == "untouched"
    assert SectorState(cell="x", walked=True).state == "walked"
    assert SectorState(cell="x", walked=True, taken_by_id=3).state == "taken"
    assert short_name("見守 花子") == "見守"
    assert short_name("見守\u3000花子") == "見守"
    assert short_name("") == ""
