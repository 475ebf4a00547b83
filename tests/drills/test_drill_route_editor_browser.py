"""The route editor in headless Chromium: draw, place checkpoints, save, reload."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import pytest
from support import blank_png, browser_login

from watchnet.core.extensions import db
from watchnet.drills.models import Drill

pytestmark = pytest.mark.browser

TILE_HOST = "cyberjapandata.gsi.go.jp"
HOSTILE = "<img src=x onerror=alert(1)>"
# A 1x1 transparent PNG, served for every tile so the test needs no network.
BLANK_PNG = blank_png()
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture()
def root_conftest(request: pytest.FixtureRequest) -> ModuleType:
    """tests/conftest.py as a module, for its helpers (browser_login).

    conftest files outside packages all share the module name "conftest", so `import conftest`
    may give another directory's; pytest registers each under its path, which is unambiguous.
    """
    path = Path(__file__).resolve().parents[1] / "conftest.py"
    module = request.config.pluginmanager.get_plugin(str(path))
    assert module is not None, f"{path} is not loaded"
    return module


def login_in_browser(page, server, user, password: str) -> None:
    """Log in through the login form (conftest.browser_login clicks the first submit button
    of the page, which is the header's language switch)."""
    page.goto(f"{server.url}/login")
    form = page.locator("form:has(input[name=password])")
    form.locator("input[name=email]").fill(user.email)
    form.locator("input[name=password]").fill(password)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert "/login" not in page.url, "the browser login failed"


def test_organizer_draws_a_route_with_checkpoints_and_reload_shows_exactly_that(
    live_server, page, root_conftest, district, organizer, make_drill
):
    drill = make_drill(district, title="ブラウザ訓練", route=[], checkpoints=[])
    dialogs: list[str] = []
    requests: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: requests.append(r.url))
    page.route(
        f"https://{TILE_HOST}/**",
        lambda route: route.fulfill(status=200, content_type="image/png", body=BLANK_PNG),
    )

    login_in_browser(page, live_server, organizer, root_conftest.PASSWORD)
    page.goto(f"{live_server.url}/drills/{drill.id}/route")
    page.wait_for_function("window.watchnetRouteEditor !== undefined")
    box = page.locator(".editor-map .folium-map").bounding_box()
    assert box is not None and box["width"] > 400 and box["height"] > 400

    def latlng_at(x: float, y: float) -> tuple[float, float]:
        ll = page.evaluate(
            "([x, y]) => window.watchnetMaps.main.containerPointToLatLng([x, y])", [x, y]
        )
        return ll["lat"], ll["lng"]

    def click_map(x: float, y: float) -> tuple[float, float]:
        expected = latlng_at(x, y)
        page.mouse.click(box["x"] + x, box["y"] + y)
        return expected

    pixel = abs(latlng_at(0, 0)[0] - latlng_at(0, 1)[0])
    route = [click_map(150, 150), click_map(300, 260), click_map(450, 180)]
    assert page.evaluate("window.watchnetRouteEditor.payload().route.length") == 3
    assert "km" in page.locator("#route-length").inner_text()

    mode = page.locator("#mode-checkpoint")
    mode.click()
    assert mode.get_attribute("aria-pressed") == "true"
    checkpoints = []
    for (x, y), name in [((220, 330), HOSTILE), ((520, 330), "神社の前")]:
        checkpoints.append((name, *click_map(x, y)))
        page.locator("#checkpoint-name").fill(name)
        page.locator("#checkpoint-add").click()

    with page.expect_response(
        lambda r: r.url.endswith(f"/drills/{drill.id}/route") and r.request.method == "POST"
    ) as saved:
        page.locator("#save-route").click()
    assert saved.value.status == 200
    page.wait_for_function("!window.watchnetRouteEditor.isDirty()")

    page.reload()
    page.wait_for_function("window.watchnetRouteEditor !== undefined")

    db.session.expire_all()
    stored = db.session.get(Drill, drill.id)
    assert len(stored.route_points) == 3 and len(stored.checkpoints) == 2
    # The clicked places, within two screen pixels (about 1 m each at the editor's zoom).
    for (lat, lon), point in zip(route, stored.route_points, strict=True):
        assert abs(point.lat - lat) < 2 * pixel and abs(point.lon - lon) < 2 * pixel
    for (name, lat, lon), cp in zip(checkpoints, stored.checkpoints, strict=True):
        assert cp.name == name
        assert abs(cp.lat - lat) < 2 * pixel and abs(cp.lon - lon) < 2 * pixel

    shown = page.evaluate("window.watchnetRouteEditor.payload()")
    assert [(p["lat"], p["lon"]) for p in shown["route"]] == stored.route_latlons
    assert [(c["name"], c["lat"], c["lon"]) for c in shown["checkpoints"]] == [
        (cp.name, cp.lat, cp.lon) for cp in stored.checkpoints
    ]
    assert page.locator(".wn-vertex-icon").count() == 3
    assert page.locator(".leaflet-marker-pane .wn-cp-badge").count() == 2
    names = page.locator("#checkpoint-list .checkpoint-name")
    assert names.all_inner_texts() == [HOSTILE, "神社の前"]
    assert page.get_by_text(HOSTILE, exact=True).count() >= 1
    assert page.locator("img[src=x]").count() == 0

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "route_editor.png"), full_page=True)

    # The drill page draws the same route and checkpoints, the hostile name as text.
    page.goto(f"{live_server.url}/drills/{drill.id}")
    page.wait_for_selector(".map-frame .leaflet-marker-pane .wn-cp-badge")
    assert page.locator(".map-frame .leaflet-marker-pane .wn-cp-badge").count() == 2
    assert page.locator(".checkpoint-list h3").all_inner_texts() == [HOSTILE, "神社の前"]
    page.screenshot(path=str(ARTIFACTS / "drill_page.png"), full_page=True)

    assert dialogs == []
    live_host = urlsplit(live_server.url).netloc
    for url in requests:
        parts = urlsplit(url)
        assert parts.scheme in {"http", "https", "data", "blob"}, url
        if parts.scheme in {"http", "https"}:
            assert parts.netloc in {live_host, TILE_HOST}, url


def test_organizer_removes_a_point_drags_a_checkpoint_and_its_scenario_is_kept(
    live_server, page, root_conftest, district, organizer, make_drill
):
    drill = make_drill(
        district,
        checkpoints=[
            {"name": "公民館前", "lat": 36.3340, "lon": 138.9461, "role_player": "元委員 A"}
        ],
    )
    checkpoint_id = drill.checkpoints[0].id
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.type), d.dismiss()))
    page.route(
        f"https://{TILE_HOST}/**",
        lambda route: route.fulfill(status=200, content_type="image/png", body=BLANK_PNG),
    )
    login_in_browser(page, live_server, organizer, root_conftest.PASSWORD)
    page.goto(f"{live_server.url}/drills/{drill.id}/route")
    page.wait_for_function("window.watchnetRouteEditor !== undefined")
    box = page.locator(".editor-map .folium-map").bounding_box()

    def screen(lat: float, lon: float) -> tuple[float, float]:
        p = page.evaluate(
            "([a, b]) => window.watchnetMaps.main.latLngToContainerPoint([a, b])", [lat, lon]
        )
        return box["x"] + p["x"], box["y"] + p["y"]

    # Select the middle route point, then remove it with the toolbar button.
    page.mouse.click(*screen(36.3340, 138.9460))
    remove = page.locator("#remove-selected")
    assert remove.is_enabled()
    remove.click()
    assert page.evaluate("window.watchnetRouteEditor.payload().route.length") == 2

    # Drag the checkpoint 60 px to the right.
    x, y = screen(36.3340, 138.9461)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 30, y, steps=5)
    page.mouse.move(x + 60, y, steps=5)
    page.mouse.up()
    moved = page.evaluate("window.watchnetRouteEditor.payload().checkpoints[0]")
    assert moved["lon"] > 138.9461 and moved["id"] == checkpoint_id

    # Leaving with unsaved changes asks first; dismissing keeps the page.
    page.locator("#back-to-drill").click()
    page.wait_for_timeout(300)
    assert dialogs == ["beforeunload"]
    assert page.url.endswith(f"/drills/{drill.id}/route")

    with page.expect_response(lambda r: r.request.method == "POST") as saved:
        page.locator("#save-route").click()
    assert saved.value.status == 200
    db.session.expire_all()
    stored = db.session.get(Drill, drill.id)
    assert stored.route_latlons == [(36.3330, 138.9450), (36.3350, 138.9470)]
    (cp,) = stored.checkpoints
    assert (cp.id, cp.role_player) == (checkpoint_id, "元委員 A")
    assert abs(cp.lon - moved["lon"]) < 1e-12 and cp.lon > 138.9461


def test_a_click_on_the_first_point_closes_the_loop_and_checkpoints_snap_onto_the_route(
    live_server, page, district, organizer, make_drill
):
    drill = make_drill(district, title="周回ルート", route=[], checkpoints=[])
    page.route(
        f"https://{TILE_HOST}/**",
        lambda route: route.fulfill(status=200, content_type="image/png", body=BLANK_PNG),
    )
    browser_login(page, live_server, organizer)
    page.goto(f"{live_server.url}/drills/{drill.id}/route")
    page.wait_for_function("window.watchnetRouteEditor !== undefined")
    box = page.locator(".editor-map .folium-map").bounding_box()
    assert box is not None

    def click(x: float, y: float) -> None:
        page.mouse.click(box["x"] + x, box["y"] + y)

    for x, y in [(150, 150), (400, 150), (400, 350)]:
        click(x, y)
    click(150, 150)  # the first point again: the loop closes, nothing is selected
    route = page.evaluate("window.watchnetRouteEditor.payload().route")
    assert len(route) == 4 and route[-1] == route[0]
    assert "閉じ" in page.locator("#editor-status").inner_text()
    assert page.locator(".wn-vertex-selected").count() == 0

    page.locator("#mode-checkpoint").click()
    click(275, 157)  # 7 px below the top edge of the loop: on the route
    page.locator("#checkpoint-name").fill("公園の入口")
    page.locator("#checkpoint-add").click()
    click(400, 350)  # on a route point: a checkpoint there, the point stays unselected
    page.locator("#checkpoint-name").fill("角の商店")
    page.locator("#checkpoint-add").click()
    placed = page.evaluate("window.watchnetRouteEditor.payload().checkpoints")
    top_lat = route[0]["lat"]
    assert abs(placed[0]["lat"] - top_lat) < 1e-9  # snapped onto the line
    assert (placed[1]["lat"], placed[1]["lon"]) == (route[2]["lat"], route[2]["lon"])
    assert page.locator(".wn-vertex-selected").count() == 0
