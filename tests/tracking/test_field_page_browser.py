"""The supporter's field page on a phone-sized headless Chromium with emulated geolocation."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from support import blank_png

from watchnet.auth.services import make_signin_token
from watchnet.core.extensions import db
from watchnet.drills.models import Drill, DrillStatus, ExpectedContact, Participant, Team
from watchnet.tracking.models import (
    EncounterStep,
    EncounterStepKind,
    HelpCall,
    HelpResponse,
    LatestPosition,
    PositionReport,
)

pytestmark = pytest.mark.browser

TILE_HOST = "cyberjapandata.gsi.go.jp"
# A 1x1 transparent PNG, served for every tile so the test needs no network.
BLANK_PNG = blank_png()
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHECKPOINT = {
    "name": "八幡公民館前",
    "lat": 36.3340,
    "lon": 138.9461,
    "expected_contact": ExpectedContact.anshin_center,
}
AT_CHECKPOINT = {"latitude": 36.33405, "longitude": 138.94615, "accuracy": 12}
STEPS = [kind.value for kind in EncounterStepKind]
ZoneJST = ZoneInfo("Asia/Tokyo")


# ---------------------------------------------------------------------------------------------
# Helpers


def wait_until(predicate: Callable[[], Any], timeout_s: float = 10.0, what: str = "") -> Any:
    """Poll the database (or anything) until the predicate holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        db.session.expire_all()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.1)


@pytest.fixture()
def phone(browser: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Open phone-sized browser contexts (360 x 740, Japanese, Tokyo, geolocation allowed)."""
    contexts: list[Any] = []

    def open_phone(geolocation: dict[str, float] | None = None) -> Any:
        context = browser.new_context(
            viewport={"width": 360, "height": 740},
            is_mobile=True,
            has_touch=True,
            device_scale_factor=2,
            locale="ja-JP",
            timezone_id="Asia/Tokyo",
            geolocation=geolocation or AT_CHECKPOINT,
            permissions=["geolocation"],
        )
        context.route(
            f"https://{TILE_HOST}/**",
            lambda route: route.fulfill(status=200, content_type="image/png", body=BLANK_PNG),
        )
        contexts.append(context)
        return context

    yield open_phone
    failed = getattr(request.node, "rep_call", None)
    for i, context in enumerate(contexts):
        if failed is not None and failed.failed and context.pages:
            ARTIFACTS.mkdir(exist_ok=True)
            context.pages[0].screenshot(
                path=str(ARTIFACTS / f"{request.node.name}-{i}.png"), full_page=True
            )
        context.close()


@pytest.fixture()
def live_drill(district: Any, make_drill: Callable[..., Any]) -> Drill:
    return make_drill(
        district,
        title="第2回 まち歩き見守り声掛け訓練",
        status=DrillStatus.live,
        starts_at=datetime.now(UTC) - timedelta(minutes=30),
        started_at=datetime.now(UTC) - timedelta(minutes=30),
        checkpoints=[CHECKPOINT, {"name": "八幡神社", "lat": 36.3352, "lon": 138.9472}],
    )


def join(drill: Drill, supporter: Any, team_name: str = "1班") -> Participant:
    team = db.session.scalar(
        sa.select(Team).where(Team.drill_id == drill.id, Team.name == team_name)
    )
    if team is None:
        team = Team(drill_id=drill.id, name=team_name, color="#d62728")
        db.session.add(team)
        db.session.flush()
    participant = Participant(drill_id=drill.id, supporter_id=supporter.id, team_id=team.id)
    db.session.add(participant)
    db.session.commit()
    return participant


def open_field_page(context: Any, server: Any, supporter: Any, drill: Drill) -> Any:
    """Sign the phone in with the personal link, then open the field page of today's drill."""
    page = context.new_page()
    page.goto(f"{server.url}/s/{make_signin_token(supporter)}")
    page.goto(f"{server.url}/field/")
    assert page.url.endswith(f"/field/drills/{drill.id}")
    page.wait_for_selector("body[data-field-ready='1']")
    return page


def share_position(page: Any) -> None:
    page.click("#share-toggle")
    page.click("#consent-yes")
    page.wait_for_selector("#share-toggle[aria-pressed='true']")


def waiting(page: Any) -> int:
    return int(page.get_attribute("#queue-status", "data-actions"))


def tap_step(page: Any, kind: str, whom: str = "anshin_center") -> datetime:
    """Tap one step (and whom, for "contacted"); returns the moment of the tap."""
    at = datetime.now(UTC)
    page.click(f".step-btn[data-step='{kind}']")
    if kind == "contacted":
        page.click(f".contact-btn[data-whom='{whom}']")
    page.wait_for_selector(f".step.done[data-step='{kind}']")
    return at


def stored_steps(supporter: Any, drill: Drill) -> list[EncounterStep]:
    return list(
        db.session.scalars(
            sa.select(EncounterStep)
            .where(EncounterStep.supporter_id == supporter.id, EncounterStep.drill_id == drill.id)
            .order_by(EncounterStep.done_at)
        )
    )


def assert_accessible(page: Any) -> None:
    """axe finds nothing serious or critical on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    serious = [
        v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")
    ]
    assert serious == [], [(v["id"], [n["target"] for n in v["nodes"]]) for v in serious]


def assert_near(actual: datetime, expected: datetime, tolerance_s: float = 1.5) -> None:
    assert abs((actual - expected).total_seconds()) <= tolerance_s, (actual, expected)


# ---------------------------------------------------------------------------------------------
# Tests


def test_a_supporter_shares_position_and_logs_all_six_steps_at_a_checkpoint(
    live_server, phone, live_drill, supporter
):
    join(live_drill, supporter)
    checkpoint = live_drill.checkpoints[0]
    page = open_field_page(phone(), live_server, supporter, live_drill)
    assert "第2回 まち歩き見守り声掛け訓練" in page.inner_text("h1")
    assert page.get_attribute("#drill-state", "class").split() == ["drill-state", "live"]

    share_position(page)
    report = wait_until(
        lambda: db.session.scalar(
            sa.select(PositionReport).where(PositionReport.supporter_id == supporter.id)
        ),
        what="the first position",
    )
    assert report.lat == pytest.approx(AT_CHECKPOINT["latitude"])
    assert report.lon == pytest.approx(AT_CHECKPOINT["longitude"])
    assert report.accuracy_m == pytest.approx(12)
    participant = db.session.scalar(
        sa.select(Participant).where(Participant.supporter_id == supporter.id)
    )
    assert participant.position_consent_at is not None
    # The phone's own position is drawn on the map.
    page.wait_for_function("document.querySelectorAll('.leaflet-interactive').length >= 2")

    page.click("#encounter-btn")
    # The nearest checkpoint is suggested.
    page.wait_for_function(
        f"document.getElementById('checkpoint-select').value === '{checkpoint.id}'"
    )
    assert "八幡公民館前" in page.inner_text("#checkpoint-hint")

    tapped = {}
    for kind in STEPS:
        # tap_step waits until the phone shows the step done: the taps' times are in order.
        tapped[kind] = tap_step(page, kind)
    page.wait_for_function("document.getElementById('queue-status').dataset.actions === '0'")

    steps = wait_until(
        lambda: (
            len(stored_steps(supporter, live_drill)) == 6 and stored_steps(supporter, live_drill)
        ),
        what="six steps",
    )
    assert [s.step.value for s in steps] == STEPS
    for s in steps:
        assert_near(s.done_at, tapped[s.step.value])
        assert s.checkpoint_id == checkpoint.id
        assert s.lat == pytest.approx(AT_CHECKPOINT["latitude"])
        assert s.corrects_id is None
    assert steps[4].contact_whom == ExpectedContact.anshin_center
    # Each step shows a check and its time on the phone (the last acknowledgement may still be
    # on its way to the page when the queue is empty).
    page.wait_for_function("document.querySelectorAll('.step.waiting').length === 0")
    assert page.locator(".step.done").count() == 6
    # The phone shows the time it recorded for the tap (the stored done_at), not the test's
    # clock: the two can fall either side of a minute boundary.
    local = steps[0].done_at.astimezone(ZoneJST).strftime("%H:%M")
    assert local in page.inner_text(".step[data-step='noticed'] .step-status")


def test_steps_done_offline_are_sent_once_in_order_with_the_time_they_were_done(
    live_server, phone, live_drill, supporter
):
    join(live_drill, supporter)
    context = phone()
    page = open_field_page(context, live_server, supporter, live_drill)
    share_position(page)
    page.click("#encounter-btn")
    page.wait_for_function("document.getElementById('checkpoint-select').value !== ''")

    tapped = {
        "noticed": tap_step(page, "noticed"),
        "approached_front": tap_step(page, "approached_front"),
    }
    page.wait_for_function("document.getElementById('queue-status').dataset.actions === '0'")

    context.set_offline(True)
    tapped["gave_own_name"] = tap_step(page, "gave_own_name")
    tapped["asked_name_or_destination"] = tap_step(page, "asked_name_or_destination")
    assert waiting(page) == 2
    assert "2" in page.inner_text("#queue-status")
    assert page.locator(".step.waiting").count() == 2
    time.sleep(3)  # offline long enough to tell the tap time from the arrival time
    assert len(stored_steps(supporter, live_drill)) == 2
    context.set_offline(False)

    page.wait_for_function(
        "document.getElementById('queue-status').dataset.actions === '0'", timeout=15000
    )
    assert "all-sent" in page.get_attribute("#queue-status", "class")
    tapped["contacted"] = tap_step(page, "contacted", whom="family")
    tapped["handed_over"] = tap_step(page, "handed_over")
    page.wait_for_function("document.getElementById('queue-status').dataset.actions === '0'")

    steps = wait_until(
        lambda: (
            len(stored_steps(supporter, live_drill)) == 6 and stored_steps(supporter, live_drill)
        ),
        what="six steps",
    )
    assert [s.step.value for s in steps] == STEPS  # each once, in order
    for s in steps:
        assert_near(s.done_at, tapped[s.step.value])
    for kind in ("gave_own_name", "asked_name_or_destination"):
        step = next(s for s in steps if s.step.value == kind)
        assert (step.received_at - step.done_at).total_seconds() >= 2.5
    assert steps[4].contact_whom == ExpectedContact.family


def test_the_queue_survives_a_reload_and_retries_after_server_errors(
    live_server, phone, live_drill, supporter
):
    join(live_drill, supporter)
    context = phone()
    page = open_field_page(context, live_server, supporter, live_drill)
    page.click("#encounter-btn")
    page.wait_for_function("document.getElementById('checkpoint-select').value !== ''")
    attempts: list[str] = []

    def unavailable(route: Any) -> None:
        attempts.append(route.request.url)
        route.fulfill(
            status=503, content_type="application/json", body='{"code": 503, "message": "down"}'
        )

    context.route(
        "**/steps",
        lambda route: unavailable(route) if route.request.method == "POST" else route.continue_(),
    )
    tapped = tap_step(page, "noticed")
    page.wait_for_function("() => document.getElementById('queue-status').dataset.actions === '1'")
    wait_until(lambda: attempts, what="a first attempt")

    page.reload()
    page.wait_for_selector("body[data-field-ready='1']")
    assert waiting(page) == 1
    page.click("#encounter-btn")
    assert page.locator(".step.waiting[data-step='noticed']").count() == 1

    context.unroute("**/steps")
    page.wait_for_function(
        "document.getElementById('queue-status').dataset.actions === '0'", timeout=20000
    )
    steps = wait_until(lambda: stored_steps(supporter, live_drill), what="the step")
    assert len(steps) == 1
    assert_near(steps[0].done_at, tapped)


def test_a_refused_step_is_dropped_with_the_servers_message(
    live_server, phone, live_drill, supporter
):
    join(live_drill, supporter)
    page = open_field_page(phone(), live_server, supporter, live_drill)
    page.click("#encounter-btn")
    live_drill.status = DrillStatus.planned
    db.session.commit()

    page.click(".step-btn[data-step='noticed']")

    page.wait_for_selector("#field-message.error")
    assert page.locator("#field-message").inner_text().strip()
    page.wait_for_function("document.getElementById('queue-status').dataset.actions === '0'")
    assert page.locator(".step.done").count() == 0
    assert stored_steps(supporter, live_drill) == []


def test_a_step_can_be_corrected_and_the_original_is_kept(
    live_server, phone, live_drill, supporter
):
    join(live_drill, supporter)
    context = phone()
    # The phone's clock stands at hh:30 of the hour before now, so that hh:05 is earlier and
    # hh:55 later on the same day whenever the test runs.
    phone_now = (datetime.now(ZoneJST) - timedelta(hours=1)).replace(
        minute=30, second=0, microsecond=0
    )
    context.clock.install(time=phone_now)
    hh = phone_now.strftime("%H")
    page = open_field_page(context, live_server, supporter, live_drill)
    page.click("#encounter-btn")
    page.wait_for_function("document.getElementById('checkpoint-select').value !== ''")
    tap_step(page, "noticed")
    page.wait_for_function("document.getElementById('queue-status').dataset.actions === '0'")
    page.wait_for_selector(".step[data-step='noticed'] .step-fix:visible")

    page.click(".step[data-step='noticed'] .step-fix")
    # A time later than now is refused in the dialog, which stays open with what was typed.
    page.fill("#fix-time", f"{hh}:55")
    page.fill("#fix-note", "実は先に気づいていた")
    page.click("#fix-save")
    assert "今より後の時刻" in page.locator("#fix-error").inner_text()
    assert page.locator("#fix-dialog").is_visible()
    assert page.input_value("#fix-note") == "実は先に気づいていた"
    assert len(stored_steps(supporter, live_drill)) == 1

    page.fill("#fix-time", f"{hh}:05")
    page.click("#fix-save")
    assert not page.locator("#fix-dialog").is_visible()
    page.wait_for_function("document.getElementById('queue-status').dataset.actions === '0'")

    rows = wait_until(
        lambda: (
            len(stored_steps(supporter, live_drill)) == 2 and stored_steps(supporter, live_drill)
        ),
        what="the correction",
    )
    original = next(r for r in rows if r.corrects_id is None)
    correction = next(r for r in rows if r.corrects_id is not None)
    assert correction.corrects_id == original.id
    assert correction.done_at.astimezone(ZoneJST) == phone_now.replace(minute=5)
    assert correction.note == "実は先に気づいていた"
    page.wait_for_function(
        "document.querySelector(\".step[data-step='noticed'] .step-status\")"
        f".textContent.indexOf('{hh}:05') >= 0"
    )


def test_where_am_i_shows_a_sentence_with_the_nearest_place(
    live_server, phone, live_drill, supporter
):
    join(live_drill, supporter)
    page = open_field_page(phone(), live_server, supporter, live_drill)
    page.evaluate("""() => {
        window.__spoken = [];
        window.speechSynthesis.speak = (u) => window.__spoken.push([u.text, u.lang]);
    }""")

    page.click("#where-btn")
    page.wait_for_function(
        "document.getElementById('where-sentence').textContent.indexOf('36.33405') >= 0"
    )
    sentence = page.inner_text("#where-main")
    assert "八幡公民館前" in sentence
    page.click("#where-speak")
    spoken = page.evaluate("window.__spoken")
    assert spoken == [[sentence.strip(), "ja-JP"]]  # the sentence, not the coordinates


def test_the_approach_guide_is_one_tap_away(live_server, phone, live_drill, supporter):
    join(live_drill, supporter)
    page = open_field_page(phone(), live_server, supporter, live_drill)

    page.click("#guide-btn")

    assert page.locator("#guide-dialog").is_visible()
    assert page.locator("#guide-dialog li").count() == 5
    page.click("#guide-close")
    assert not page.locator("#guide-dialog").is_visible()


def test_a_help_call_reaches_the_nearest_phone_and_the_caller_sees_who_is_coming(
    live_server, phone, live_drill, supporter, make_supporter, district, organizer
):
    helper = make_supporter(district, name="近所 一郎", name_kana="きんじょ いちろう")
    join(live_drill, supporter)
    join(live_drill, helper, team_name="2班")

    helper_page = open_field_page(
        phone({"latitude": 36.3345, "longitude": 138.9465, "accuracy": 10}),
        live_server,
        helper,
        live_drill,
    )
    share_position(helper_page)
    wait_until(
        lambda: db.session.scalar(
            sa.select(PositionReport).where(PositionReport.supporter_id == helper.id)
        ),
        what="the helper's position",
    )

    caller_page = open_field_page(phone(), live_server, supporter, live_drill)
    share_position(caller_page)
    caller_page.click("#help-btn")
    caller_page.click("#help-yes")

    call = wait_until(
        lambda: db.session.scalar(sa.select(HelpCall).where(HelpCall.supporter_id == supporter.id)),
        what="the help call",
    )
    caller_page.wait_for_function(
        "document.getElementById('own-help-notified').textContent.indexOf('近所 一郎') >= 0"
    )
    assert "八幡公民館前" in call.sentence
    told = caller_page.inner_text("#own-help-notified")
    assert organizer.name in told  # the organizers are told too, by name

    banner = helper_page.wait_for_selector(".help-banner", timeout=10000)
    assert "見守 花子" in banner.inner_text()
    helper_page.wait_for_function(
        "document.querySelectorAll('.leaflet-interactive').length >= 3"
    )  # the caller's marker
    assert_accessible(helper_page)
    helper_page.click(f".respond-btn[data-help-call-id='{call.id}']")

    wait_until(
        lambda: db.session.scalar(
            sa.select(HelpResponse).where(HelpResponse.help_call_id == call.id)
        ),
        what="the answer",
    )
    caller_page.wait_for_function(
        "document.getElementById('own-help-coming').textContent.indexOf('近所 一郎') >= 0",
        timeout=10000,
    )
    assert_accessible(caller_page)


def test_the_no_drill_today_page_is_accessible(live_server, phone, district, make_drill, supporter):
    drill = make_drill(district, title="来週の訓練", meeting_place="八幡公民館")
    join(drill, supporter)
    page = phone().new_page()
    page.goto(f"{live_server.url}/s/{make_signin_token(supporter)}")
    page.goto(f"{live_server.url}/field/")

    assert page.url.endswith("/me")
    assert "来週の訓練" in page.inner_text("main")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert_accessible(page)
    page.click(f"a[href$='/field/drills/{drill.id}']")
    page.wait_for_selector("body[data-field-ready='1']")
    assert "planned" in page.get_attribute("#drill-state", "class")


def test_the_field_page_is_accessible_and_fits_a_360_px_phone(
    live_server, phone, live_drill, supporter
):
    join(live_drill, supporter)
    live_drill.contact_phone, live_drill.contact_label = "090-1234-5678", "主催者（携帯）"
    db.session.commit()
    page = open_field_page(phone(), live_server, supporter, live_drill)
    share_position(page)
    page.click("#encounter-btn")
    page.wait_for_function("document.getElementById('checkpoint-select').value !== ''")
    tap_step(page, "noticed")
    page.wait_for_function("document.getElementById('queue-status').dataset.actions === '0'")

    assert_accessible(page)
    page.click("#where-btn")
    page.wait_for_function(
        "document.getElementById('where-sentence').textContent.indexOf('36.33405') >= 0"
    )
    assert_accessible(page)
    for dialog in ("guide", "help"):
        page.click(f"#{dialog}-btn")
        assert_accessible(page)
        page.keyboard.press("Escape")

    # Nothing wider than the phone; large type; big full-width buttons.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 18
    for selector in (
        "#share-toggle",
        "#where-btn",
        "#encounter-btn",
        "#guide-btn",
        "#help-btn",
        "#call-contact",
        ".step-btn[data-step='handed_over']",
    ):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["height"] >= 56 and box["width"] >= 280, (selector, box)

    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "field_page.png"), full_page=True)


def test_a_phone_that_moves_reports_its_new_position(live_server, phone, live_drill, supporter):
    join(live_drill, supporter)
    context = phone()
    page = open_field_page(context, live_server, supporter, live_drill)
    share_position(page)
    wait_until(
        lambda: db.session.scalar(
            sa.select(PositionReport).where(PositionReport.supporter_id == supporter.id)
        ),
        what="the first position",
    )

    # Moving makes Chromium report a brief "position unavailable" (code 2) before the new
    # position: the page keeps watching, and a fix that comes quickly is still reported.
    context.set_geolocation({"latitude": 36.3352, "longitude": 138.9472, "accuracy": 8})

    moved = wait_until(
        lambda: db.session.scalar(
            sa.select(LatestPosition).where(
                LatestPosition.supporter_id == supporter.id, LatestPosition.lat > 36.335
            )
        ),
        timeout_s=25,
        what="the new position",
    )
    assert moved.lon == pytest.approx(138.9472)
    assert page.get_attribute("#share-toggle", "aria-pressed") == "true"
    count = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(PositionReport)
        .where(PositionReport.supporter_id == supporter.id)
    )
    assert count == 2


def test_the_page_follows_the_drill_starting_and_ending_without_a_reload(
    live_server, phone, district, make_drill, supporter
):
    from watchnet.tracking.lifecycle import end_drill, start_drill

    drill = make_drill(
        district, title="これから始まる訓練", starts_at=datetime.now(UTC) + timedelta(minutes=1)
    )
    join(drill, supporter)
    page = open_field_page(phone(), live_server, supporter, drill)
    assert "planned" in page.get_attribute("#drill-state", "class")
    assert page.locator("#not-live-note").is_visible()
    page.click("#share-toggle")
    assert page.get_attribute("#share-toggle", "aria-pressed") == "false"
    assert page.locator("#field-message").is_visible()

    start_drill(drill)
    db.session.commit()
    page.wait_for_selector("#drill-state.live", timeout=10000)
    assert not page.locator("#not-live-note").is_visible()
    share_position(page)
    wait_until(
        lambda: db.session.scalar(
            sa.select(PositionReport).where(PositionReport.supporter_id == supporter.id)
        ),
        what="a position once live",
    )

    end_drill(db.session.get(Drill, drill.id))
    db.session.commit()
    page.wait_for_selector("#drill-state.ended", timeout=10000)
    assert page.get_attribute("#share-toggle", "aria-pressed") == "false"
    assert page.locator("#not-live-note").is_visible()


def test_an_expired_csrf_token_is_renewed_and_the_step_still_arrives_once(
    live_server, phone, live_drill, supporter
):
    join(live_drill, supporter)
    page = open_field_page(phone(), live_server, supporter, live_drill)
    page.click("#encounter-btn")
    page.evaluate(
        "document.querySelector('meta[name=csrf-token]').setAttribute('content', 'expired')"
    )

    at = tap_step(page, "noticed")

    page.wait_for_function("document.getElementById('queue-status').dataset.actions === '0'")
    steps = wait_until(lambda: stored_steps(supporter, live_drill), what="the step")
    assert len(steps) == 1
    assert_near(steps[0].done_at, at)
    assert page.get_attribute("meta[name=csrf-token]", "content") != "expired"
    assert not page.locator("#field-message.error").is_visible()
