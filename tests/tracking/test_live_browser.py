"""The issue's browser test: a supporter's phone (360 px headless Chromium with emulated
geolocation) shares its position and logs all six steps at a checkpoint; the organizer's live
view, open in a second browser context, shows the position and each step within two seconds,
without a reload."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support import blank_png

from tests.conftest import PASSWORD
from watchnet.auth.services import make_signin_token
from watchnet.core.extensions import db
from watchnet.drills.models import Drill, DrillStatus, ExpectedContact, Participant, Team
from watchnet.tracking.models import EncounterStepKind

pytestmark = pytest.mark.browser

TILE_HOST = "cyberjapandata.gsi.go.jp"
BLANK_PNG = blank_png()
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
AT_CHECKPOINT = {"latitude": 36.33405, "longitude": 138.94615, "accuracy": 12}
STEPS = [kind.value for kind in EncounterStepKind]
MAX_DELAY_MS = 2000

# Records, in the organizer's page, the moment each position marker and feed item first
# appears (epoch ms, the same clock the test reads), and marks the page to detect a reload.
WATCH_SCRIPT = """
() => {
  window.__marker = "loaded-once";
  window.__seen = {};
  const note = (node) => {
    if (!(node instanceof Element)) { return; }
    const items = [node, ...node.querySelectorAll(".feed-item, .live-pos")];
    for (const el of items) {
      let key = null;
      if (el.matches(".feed-item[data-kind=step]")) { key = "step:" + el.dataset.step; }
      else if (el.matches(".feed-item[data-kind=help_call]")) { key = "help"; }
      else if (el.matches && el.matches(".live-pos")) {
        key = "pos:" + [...el.classList].find(c => /^live-pos-\\d+$/.test(c)).slice(9);
      }
      if (key && !(key in window.__seen)) { window.__seen[key] = Date.now(); }
    }
  };
  new MutationObserver((records) => {
    for (const r of records) { r.addedNodes.forEach(note); }
  }).observe(document.body, {childList: true, subtree: true});
}
"""


@pytest.fixture()
def contexts(browser: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """new_context(**options): browser contexts that serve blank map tiles (no network)."""
    opened: list[Any] = []

    def new_context(**options: Any) -> Any:
        context = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo", **options)
        context.route(
            f"https://{TILE_HOST}/**",
            lambda route: route.fulfill(status=200, content_type="image/png", body=BLANK_PNG),
        )
        opened.append(context)
        return context

    yield new_context
    failed = getattr(request.node, "rep_call", None)
    for i, context in enumerate(opened):
        if failed is not None and failed.failed and context.pages:
            ARTIFACTS.mkdir(exist_ok=True)
            context.pages[0].screenshot(path=str(ARTIFACTS / f"{request.node.name}-{i}.png"))
        context.close()


@pytest.fixture()
def live_drill(
    district: Any,
    make_drill: Callable[..., Any],
    supporter: Any,
    make_supporter: Callable[..., Any],
) -> Drill:
    drill = make_drill(
        district,
        title="第2回 まち歩き見守り声掛け訓練",
        status=DrillStatus.live,
        starts_at=datetime.now(UTC) - timedelta(minutes=30),
        started_at=datetime.now(UTC) - timedelta(minutes=30),
        checkpoints=[
            {
                "name": "八幡公民館前",
                "lat": 36.3340,
                "lon": 138.9461,
                "expected_contact": ExpectedContact.anshin_center,
            },
            {"name": "八幡神社", "lat": 36.3352, "lon": 138.9472},
        ],
    )
    red = Team(drill_id=drill.id, name="1班", color="#b3261e")
    blue = Team(drill_id=drill.id, name="2班", color="#0b5cad")
    db.session.add_all([red, blue])
    db.session.flush()
    other = make_supporter(district, name="佐藤 一郎", name_kana="さとう いちろう")
    db.session.add_all(
        [
            Participant(drill_id=drill.id, supporter_id=supporter.id, team_id=red.id),
            Participant(drill_id=drill.id, supporter_id=other.id, team_id=blue.id),
        ]
    )
    db.session.commit()
    return drill


def open_live_view(context: Any, server: Any, organizer: Any, drill: Drill) -> Any:
    page = context.new_page()
    page.goto(f"{server.url}/login")
    form = page.locator("form:has(input[name=password])")
    form.locator("input[name=email]").fill(organizer.email)
    form.locator("input[name=password]").fill(PASSWORD)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    page.goto(f"{server.url}/drills/{drill.id}/live")
    page.wait_for_selector("#live-connection[data-state=connected]")
    page.evaluate(WATCH_SCRIPT)
    return page


def open_field_page(context: Any, server: Any, supporter: Any, drill: Drill) -> Any:
    page = context.new_page()
    page.goto(f"{server.url}/s/{make_signin_token(supporter)}")
    page.goto(f"{server.url}/field/drills/{drill.id}")
    page.wait_for_selector("body[data-field-ready='1']")
    return page


def seen_at(live: Any, key: str, timeout_ms: int = 5000) -> float:
    """When (epoch ms) the organizer's page first showed `key`."""
    live.wait_for_function(f"window.__seen && ({key!r} in window.__seen)", timeout=timeout_ms)
    return float(live.evaluate(f"window.__seen[{key!r}]"))


def test_the_organizers_live_view_shows_a_phones_position_and_each_step_within_two_seconds(
    live_server, contexts, live_drill, supporter, organizer
):
    live = open_live_view(
        contexts(viewport={"width": 1600, "height": 900}), live_server, organizer, live_drill
    )
    assert live.inner_text("#count-sharing") == "0"
    assert "1班" in live.inner_text("#live-legend") and "2班" in live.inner_text("#live-legend")

    phone = open_field_page(
        contexts(
            viewport={"width": 360, "height": 740},
            is_mobile=True,
            has_touch=True,
            geolocation=AT_CHECKPOINT,
            permissions=["geolocation"],
        ),
        live_server,
        supporter,
        live_drill,
    )
    # Share position: the phone asks once for consent, then reports.
    shared_ms = time.time() * 1000
    phone.click("#share-toggle")
    phone.click("#consent-yes")
    position_ms = seen_at(live, f"pos:{supporter.id}")
    assert position_ms - shared_ms <= MAX_DELAY_MS, position_ms - shared_ms
    marker = live.locator(f"path.live-pos-{supporter.id}")
    assert float(marker.get_attribute("data-lat")) == pytest.approx(AT_CHECKPOINT["latitude"])
    assert marker.get_attribute("fill") == "#b3261e"  # the team's colour
    live.wait_for_function("document.getElementById('count-sharing').textContent === '1'")
    assert "見守 花子" in live.inner_text(".live-name-tooltip")

    # All six steps at the checkpoint, each on the organizer's screen within two seconds.
    phone.click("#encounter-btn")
    checkpoint = live_drill.checkpoints[0]
    phone.wait_for_function(
        f"document.getElementById('checkpoint-select').value === '{checkpoint.id}'"
    )
    delays = {}
    for kind in STEPS:
        tapped_ms = time.time() * 1000
        phone.click(f".step-btn[data-step='{kind}']")
        if kind == "contacted":
            phone.click(".contact-btn[data-whom='anshin_center']")
        delays[kind] = seen_at(live, f"step:{kind}") - tapped_ms
    print(
        "delays (ms): position",
        round(position_ms - shared_ms),
        {k: round(v) for k, v in delays.items()},
    )
    assert all(delay <= MAX_DELAY_MS for delay in delays.values()), delays

    # The feed, newest first: time, who, team, checkpoint, step.
    items = live.locator("#live-feed .feed-item[data-kind=step]")
    assert [items.nth(i).get_attribute("data-step") for i in range(6)] == STEPS[::-1]
    noticed = live.locator("#live-feed .feed-item[data-step=noticed]").inner_text()
    assert "見守 花子" in noticed and "1班" in noticed and "八幡公民館前" in noticed
    clock = live.locator("#live-feed .feed-item[data-step=noticed] time").inner_text()
    assert len(clock) == 8 and clock[2] == ":" and clock[5] == ":"  # HH:MM:SS, local time
    assert (
        "あんしんセンター"
        in live.locator("#live-feed .feed-item[data-step=contacted]").inner_text()
        or "Anshin" in live.locator("#live-feed .feed-item[data-step=contacted]").inner_text()
    )
    assert live.inner_text("#count-steps") == "6"
    # The checkpoint shows that team 1 has been through it, team 2 not yet.
    cp = live.locator(f"#live-checkpoints li[data-checkpoint-id='{checkpoint.id}']")
    assert cp.locator("li.passed").inner_text().strip().startswith("1班")
    assert "2班" in cp.locator("li.pending").inner_text()

    # Never reloaded: the mark set after the first load is still there.
    assert live.evaluate("window.__marker") == "loaded-once"
    ARTIFACTS.mkdir(exist_ok=True)
    live.screenshot(path=str(ARTIFACTS / "live_view.png"))
    phone.screenshot(path=str(ARTIFACTS / "live_view_phone.png"))


def test_a_help_call_appears_highlighted_and_the_organizer_answers_on_my_way(
    live_server, contexts, live_drill, supporter, organizer
):
    live = open_live_view(
        contexts(viewport={"width": 1280, "height": 800}), live_server, organizer, live_drill
    )
    phone = open_field_page(
        contexts(
            viewport={"width": 360, "height": 740},
            is_mobile=True,
            has_touch=True,
            geolocation=AT_CHECKPOINT,
            permissions=["geolocation"],
        ),
        live_server,
        supporter,
        live_drill,
    )
    called_ms = time.time() * 1000
    phone.click("#help-btn")
    phone.click("#help-yes")
    assert seen_at(live, "help") - called_ms <= MAX_DELAY_MS
    item = live.locator("#live-feed .feed-item[data-kind=help_call]")
    assert "見守 花子" in item.inner_text()
    live.wait_for_function("document.getElementById('count-help').textContent === '1'")
    item.locator("button.feed-respond").click()
    live.wait_for_function(
        "document.querySelector('.feed-item[data-kind=help_call]').dataset.responders === '1'"
    )
    assert organizer.name in item.locator(".feed-responders").inner_text()
    # The caller's phone sees who is coming.
    phone.wait_for_function(
        f"document.getElementById('own-help-coming').textContent.includes({organizer.name!r})"
    )
    assert live.evaluate("window.__marker") == "loaded-once"
