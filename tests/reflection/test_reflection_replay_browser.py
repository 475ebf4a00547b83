"""The replay in a real browser: moving the time slider changes which steps are on the map."""

from __future__ import annotations

from support import browser_login


def _visible_steps(page) -> int:
    return page.locator("path.replay-step").count()


def test_moving_the_replay_slider_changes_the_steps_on_the_map(
    live_server, page, organizer, known_drill
):
    browser_login(page, live_server, organizer)
    page.goto(f"{live_server.url}/drills/{known_drill.drill.id}/replay")
    summary = page.locator("#replay-summary")
    # The slider starts at the end: all 11 effective steps with a place (the one logged with
    # neither a checkpoint nor a position is left out).
    page.wait_for_selector("#replay-summary[data-visible-steps='11']")
    assert _visible_steps(page) == 11
    assert page.locator("path.replay-track").count() == 1
    assert page.locator("script[src*='leaflet_heat']").count() == 1

    slider = page.locator("#replay-slider")
    slider.focus()
    page.keyboard.press("Home")
    page.wait_for_selector("#replay-summary[data-visible-steps='1']")
    assert _visible_steps(page) == 1  # only the first "noticed", at 10:00:00
    assert page.locator("#replay-time").inner_text() == "10:00:00"

    slider.fill("300")  # 10:05:00: steps at +0, 20, 45, 60, 100, 130, 190 and 300 s
    page.wait_for_selector("#replay-summary[data-visible-steps='8']")
    assert _visible_steps(page) == 8
    assert page.locator("#replay-time").inner_text() == "10:05:00"

    page.keyboard.press("End")
    page.wait_for_selector("#replay-summary[data-visible-steps='11']")
    assert "11" in summary.inner_text()


def test_the_heat_map_follows_the_slider_and_the_event_list_moves_the_replay(
    live_server, page, organizer, known_drill
):
    browser_login(page, live_server, organizer)
    page.goto(f"{live_server.url}/drills/{known_drill.drill.id}/replay")
    page.wait_for_selector("#replay-summary[data-visible-steps='11']")
    heat_points = """() => {
        let n = -1;
        window.watchnetMaps.main.eachLayer((l) => {
            if (L.HeatLayer && l instanceof L.HeatLayer) { n = l._latlngs.length; }
        });
        return n;
    }"""
    at_end = page.evaluate(heat_points)
    assert at_end > 1
    slider = page.locator("#replay-slider")
    slider.focus()
    page.keyboard.press("Home")
    page.wait_for_selector("#replay-summary[data-visible-steps='1']")
    assert page.evaluate(heat_points) < at_end

    events = page.locator("#replay-events li")
    assert events.count() == 11
    assert events.nth(5).get_attribute("class") == "is-future"
    events.nth(5).locator("button").click()  # the sixth step: the replay moves to it
    page.wait_for_selector("#replay-summary[data-visible-steps='6']")
    assert events.nth(5).get_attribute("aria-current") == "step"
    assert "is-future" not in (events.nth(4).get_attribute("class") or "")
    assert "is-future" in (events.nth(6).get_attribute("class") or "")
