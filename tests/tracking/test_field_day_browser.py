"""Drill day on a 360 × 740 phone (issue 12, points 4, 6 and 7), in headless Chromium against
the real app and database:

- the first screen holds sharing, help and ☎, and 「すべて送信済み」 waits for a first send;
- another supporter's help call is a banner that stays in view wherever the page is scrolled,
  with a tone (Web Audio) and vibration, and it ends on every open page (the helper's phone,
  the caller's phone, the organizer's live view) with the caller's 「もう大丈夫」, the
  organizer's 「対応済み」 or the end of the drill;
- a note typed after the last step is saved with 「メモを保存」 (also without a connection) and
  reaches the reflection page, the printed report and the CSV.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support import blank_png, browser_login

from tests.tracking import test_field_page_browser as field_page
from tests.tracking.test_field_page_browser import (
    STEPS,
    assert_accessible,
    join,
    open_field_page,
    share_position,
    tap_step,
    wait_until,
)
from watchnet.core.extensions import db
from watchnet.drills.models import Drill
from watchnet.tracking.models import (
    EncounterNote,
    HelpCall,
    HelpCallResolution,
    HelpResponse,
    PositionReport,
)

pytestmark = pytest.mark.browser

# The field page tests' fixtures: phones at 360 × 740 and a live drill with two checkpoints.
phone = field_page.phone
live_drill = field_page.live_drill

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCREEN = {"width": 360, "height": 740}
PRIMARY = ("#share-toggle", "#help-btn", "#call-contact")
NEAR_BY = {"latitude": 36.3345, "longitude": 138.9465, "accuracy": 10}  # ~70 m from the caller

# Counts what the page asks of the Web Audio API and of navigator.vibrate (the real API still
# runs): an oscillator per tone, and each vibration pattern.
INSTRUMENT = """
window.__tones = 0;
window.__vibrations = [];
(() => {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (Context) {
    const create = Context.prototype.createOscillator;
    Context.prototype.createOscillator = function () {
      window.__tones += 1;
      return create.call(this);
    };
  }
  const vibrate = navigator.vibrate ? navigator.vibrate.bind(navigator) : null;
  navigator.vibrate = (pattern) => {
    window.__vibrations.push(pattern);
    return vibrate ? vibrate(pattern) : true;
  };
})();
"""

# Whether the element's box lies within the viewport and is what a finger there would touch
# (not covered by the sticky bars or the map).
ON_SCREEN = """(selector) => {
  const node = document.querySelector(selector);
  if (!node) { return "missing"; }
  const r = node.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) { return "hidden"; }
  if (r.top < 0 || r.left < 0 || r.bottom > window.innerHeight || r.right > window.innerWidth) {
    return "outside: " + JSON.stringify([r.top, r.bottom, window.innerHeight]);
  }
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  if (hit && (hit === node || node.contains(hit))) { return "ok"; }
  return "covered by " + (hit && hit.outerHTML.slice(0, 80));
}"""


@pytest.fixture()
def organizer_page(
    browser: Any, live_server: Any, organizer: Any, request: pytest.FixtureRequest
) -> Iterator[Callable[[str], Any]]:
    """open(path): a page of the organizer's desktop browser (signed in by cookie)."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="ja-JP", timezone_id="Asia/Tokyo"
    )
    png = blank_png()
    context.route(
        "https://cyberjapandata.gsi.go.jp/**",
        lambda route: route.fulfill(status=200, content_type="image/png", body=png),
    )

    def open_page(path: str) -> Any:
        page = context.new_page()
        browser_login(page, live_server, organizer)
        page.goto(f"{live_server.url}{path}")
        return page

    yield open_page
    context.close()


@pytest.fixture()
def day(live_drill: Drill) -> Drill:
    live_drill.contact_phone, live_drill.contact_label = "090-1234-5678", "主催者（携帯）"
    db.session.commit()
    return live_drill


def open_live_view(organizer_page: Callable[[str], Any], drill: Drill) -> Any:
    live = organizer_page(f"/drills/{drill.id}/live")
    live.wait_for_selector("#live-connection[data-state=connected]")
    return live


def in_view(page: Any, selector: str) -> str:
    return str(page.evaluate(ON_SCREEN, selector))


def scroll_to_bottom(page: Any) -> None:
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    page.wait_for_function(
        "Math.abs(window.scrollY + window.innerHeight - document.documentElement.scrollHeight) < 2"
    )
    assert page.evaluate("window.scrollY") > 300  # the page really moved


class Scene:
    """A helper already sharing their position near the caller; both phones open; the
    organizer's live view open."""

    def __init__(self, caller_page: Any, helper_page: Any, live: Any, helper: Any) -> None:
        self.caller_page = caller_page
        self.helper_page = helper_page
        self.live = live
        self.helper = helper

    def call_for_help(self, supporter: Any) -> HelpCall:
        self.caller_page.click("#help-btn")
        self.caller_page.click("#help-yes")
        call: HelpCall = wait_until(
            lambda: db.session.scalar(
                sa.select(HelpCall).where(HelpCall.supporter_id == supporter.id)
            ),
            what="the help call",
        )
        self.helper_page.wait_for_selector(f".help-banner[data-help-call-id='{call.id}']")
        self.live.wait_for_selector(f".feed-item[data-help-call-id='{call.id}']")
        self.caller_page.wait_for_function(
            "document.getElementById('own-help-notified').textContent.length > 0"
            " && !document.getElementById('own-help').hidden"
        )
        return call

    def assert_ended_everywhere(self, call: HelpCall, resolution: str) -> None:
        self.helper_page.wait_for_selector(".help-banner", state="detached")
        self.caller_page.wait_for_selector("#own-help", state="hidden")
        self.live.wait_for_selector(
            f".feed-item.ended[data-help-call-id='{call.id}'][data-resolution='{resolution}']"
        )
        self.live.wait_for_function("document.getElementById('count-help').textContent === '0'")
        # The map no longer marks the call on the helper's phone (Leaflet fades it out).
        self.helper_page.wait_for_selector(
            ".leaflet-tooltip:has-text('見守 花子')", state="detached"
        )


@pytest.fixture()
def scene(
    live_server: Any,
    phone: Callable[..., Any],
    day: Drill,
    supporter: Any,
    make_supporter: Callable[..., Any],
    district: Any,
    organizer_page: Callable[[str], Any],
) -> Scene:
    helper = make_supporter(district, name="近所 一郎", name_kana="きんじょ いちろう")
    join(day, supporter)
    join(day, helper, team_name="2班")
    helper_context = phone(NEAR_BY)
    helper_context.add_init_script(INSTRUMENT)
    helper_page = open_field_page(helper_context, live_server, helper, day)
    share_position(helper_page)  # the helper has touched the page: it may make a sound
    wait_until(
        lambda: db.session.scalar(
            sa.select(PositionReport).where(PositionReport.supporter_id == helper.id)
        ),
        what="the helper's position",
    )
    live = open_live_view(organizer_page, day)
    caller_page = open_field_page(phone(), live_server, supporter, day)
    share_position(caller_page)
    return Scene(caller_page, helper_page, live, helper)


# ---------------------------------------------------------------------------------------------
# The first screen


@pytest.mark.parametrize(("locale", "all_sent"), [("ja", "すべて送信済み"), ("en", "All sent")])
def test_the_first_screen_holds_sharing_help_and_the_days_number(
    live_server, phone, day, supporter, locale, all_sent
):
    supporter.locale = locale
    db.session.commit()
    join(day, supporter)
    page = open_field_page(phone(), live_server, supporter, day)
    assert page.viewport_size == SCREEN
    assert page.evaluate("window.scrollY") == 0

    for selector in PRIMARY:
        assert in_view(page, selector) == "ok", selector
    # A fresh page has sent nothing: no 「すべて送信済み」.
    assert not page.locator("#queue-status").is_visible()
    assert page.get_attribute("#call-contact", "href") == "tel:09012345678"

    share_position(page)
    page.wait_for_selector("#queue-status.all-sent:visible")
    assert page.inner_text("#queue-status").strip() == all_sent
    # The bar that now sticks to the bottom covers none of the three.
    for selector in PRIMARY:
        assert in_view(page, selector) == "ok", selector
    assert page.evaluate("document.documentElement.scrollWidth") <= SCREEN["width"]


# ---------------------------------------------------------------------------------------------
# Help calls


def test_a_help_call_is_a_banner_in_view_with_sound_and_vibration_and_ends_with_im_all_right(
    scene, supporter
):
    helper_page = scene.helper_page
    call = scene.call_for_help(supporter)

    banner = helper_page.locator(f".help-banner[data-help-call-id='{call.id}']")
    text = banner.inner_text()
    assert "見守 花子" in text and "八幡公民館前" in text  # who, and the place sentence
    assert banner.locator(".respond-btn").inner_text().strip() == "向かいます"
    assert banner.locator("a.help-call").get_attribute("href") == "tel:09012345678"
    # A tone through the Web Audio API (three oscillators) and a vibration, once.
    helper_page.wait_for_function("document.body.dataset.helpAlerts === '1'")
    assert helper_page.evaluate("window.__tones") == 3
    assert helper_page.evaluate("window.__vibrations") == [[300, 150, 300, 150, 300]]
    assert helper_page.evaluate("document.body.dataset.lastAlert").startswith("sound")

    selector = f".help-banner[data-help-call-id='{call.id}'] .respond-btn"
    assert in_view(helper_page, selector) == "ok"
    scroll_to_bottom(helper_page)
    assert in_view(helper_page, f".help-banner[data-help-call-id='{call.id}']") == "ok"
    assert in_view(helper_page, selector) == "ok"
    ARTIFACTS.mkdir(exist_ok=True)
    helper_page.screenshot(path=str(ARTIFACTS / "field_help_banner_scrolled.png"))
    helper_page.evaluate("window.scrollTo(0, 500)")
    assert in_view(helper_page, selector) == "ok"
    assert_accessible(helper_page)

    helper_page.click(selector)  # 「向かいます」, from wherever the page is
    wait_until(
        lambda: db.session.scalar(
            sa.select(HelpResponse).where(HelpResponse.help_call_id == call.id)
        ),
        what="the answer",
    )
    caller_page = scene.caller_page
    caller_page.wait_for_function(
        "document.getElementById('own-help-coming').textContent.includes('近所 一郎')"
    )
    # The caller's own call stays in view too, with 「もう大丈夫」.
    scroll_to_bottom(caller_page)
    assert in_view(caller_page, "#own-help-ok") == "ok"
    caller_page.screenshot(path=str(ARTIFACTS / "field_own_help_scrolled.png"))
    assert caller_page.inner_text("#own-help-ok").strip() == "もう大丈夫"
    assert_accessible(caller_page)

    caller_page.click("#own-help-ok")

    scene.assert_ended_everywhere(call, "caller_ok")
    helper_page.wait_for_selector(
        "#field-message:has-text('見守 花子さんの応援の依頼は終わりました')"
    )
    ended = wait_until(
        lambda: (
            db.session.get(HelpCall, call.id).resolved_at is not None
            and db.session.get(HelpCall, call.id)
        ),
        what="the call ended",
    )
    assert ended.resolution == HelpCallResolution.caller_ok
    assert ended.resolved_by == f"supporter:{supporter.id}"
    assert "呼んだ人が「もう大丈夫」" in scene.live.inner_text(
        f".feed-item[data-help-call-id='{call.id}']"
    )
    # A reload shows no banner again: the page asks the server what is still open.
    helper_page.reload()
    helper_page.wait_for_selector("body[data-field-ready='1']")
    assert helper_page.locator(".help-banner").count() == 0


def test_the_organizers_handled_closes_the_call_on_every_open_page(scene, supporter, organizer):
    call = scene.call_for_help(supporter)

    scene.live.click(f".feed-item[data-help-call-id='{call.id}'] .feed-resolve")

    scene.assert_ended_everywhere(call, "staff_handled")
    scene.caller_page.wait_for_selector(
        "#field-message:has-text('主催者があなたの応援の依頼を「対応済み」にしました。')"
    )
    item = scene.live.inner_text(f".feed-item[data-help-call-id='{call.id}']")
    assert f"{organizer.name}が「対応済み」にしました" in item
    ended = wait_until(
        lambda: (
            db.session.get(HelpCall, call.id).resolved_at is not None
            and db.session.get(HelpCall, call.id)
        ),
        what="the call ended",
    )
    assert (ended.resolution, ended.resolved_by) == (
        HelpCallResolution.staff_handled,
        f"staff:{organizer.id}",
    )
    # The caller's phone cannot end it a second time: its button went with the box.
    assert scene.caller_page.locator("#own-help-ok:visible").count() == 0


def test_open_help_calls_close_when_the_drill_ends(scene, supporter, organizer_page, day):
    call = scene.call_for_help(supporter)

    confirm = organizer_page(f"/drills/{day.id}/end")
    confirm.click("#confirm-end")
    confirm.wait_for_load_state()

    scene.assert_ended_everywhere(call, "drill_ended")
    for page in (scene.caller_page, scene.helper_page):
        page.wait_for_selector("#drill-state.ended")
    ended = wait_until(
        lambda: (
            db.session.get(HelpCall, call.id).resolved_at is not None
            and db.session.get(HelpCall, call.id)
        ),
        what="the call ended",
    )
    assert ended.resolution == HelpCallResolution.drill_ended
    assert ended.resolved_at == db.session.get(Drill, day.id).finished_at


def test_im_all_right_without_a_connection_sends_the_call_and_its_end_in_order(scene, supporter):
    caller_page = scene.caller_page
    caller_page.context.set_offline(True)
    caller_page.click("#help-btn")
    caller_page.click("#help-yes")
    caller_page.wait_for_function("document.getElementById('queue-status').dataset.actions === '1'")
    assert not caller_page.locator("#own-help").is_hidden()

    caller_page.click("#own-help-ok")  # changed their mind before anything went out

    caller_page.wait_for_selector("#own-help", state="hidden")
    assert caller_page.get_attribute("#queue-status", "data-actions") == "2"
    caller_page.context.set_offline(False)
    caller_page.wait_for_function(
        "document.getElementById('queue-status').dataset.actions === '0'", timeout=20000
    )
    call = wait_until(
        lambda: db.session.scalar(
            sa.select(HelpCall).where(
                HelpCall.supporter_id == supporter.id, HelpCall.resolved_at.is_not(None)
            )
        ),
        what="the call, ended",
    )
    assert call.resolution == HelpCallResolution.caller_ok
    assert db.session.scalar(sa.select(sa.func.count()).select_from(HelpCall)) == 1
    # The helper's phone may have shown the call for a moment; it is gone, and stays gone.
    scene.live.wait_for_selector(f".feed-item.ended[data-help-call-id='{call.id}']")
    scene.helper_page.wait_for_function("document.querySelectorAll('.help-banner').length === 0")
    assert caller_page.locator("#own-help").is_hidden()


# ---------------------------------------------------------------------------------------------
# Notes


def test_a_note_typed_after_the_last_step_reaches_the_reflection_page_report_and_csv(
    live_server, phone, day, supporter, organizer_page
):
    join(day, supporter)
    live = open_live_view(organizer_page, day)
    context = phone()
    page = open_field_page(context, live_server, supporter, day)
    page.click("#encounter-btn")
    page.wait_for_function("document.getElementById('checkpoint-select').value !== ''")
    for kind in STEPS:
        tap_step(page, kind)
    page.wait_for_function("document.getElementById('queue-status').dataset.actions === '0'")

    # After the last step there is no next step to carry the note: 「メモを保存」 keeps it.
    page.fill("#step-note", "ご家族に引き継ぐまで5分かかった")
    page.click("#note-save")
    page.wait_for_selector("#note-status[data-state='saved']")
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#encounter-panel").screenshot(path=str(ARTIFACTS / "field_note_saved.png"))
    assert page.inner_text("#note-status").strip() == "保存しました。"
    assert page.input_value("#step-note") == ""
    note = wait_until(lambda: db.session.scalar(sa.select(EncounterNote)), what="the note")
    assert note.checkpoint_id == day.checkpoints[0].id
    assert note.team_id is not None
    page.wait_for_selector(".saved-note:has-text('ご家族に引き継ぐまで5分かかった')")
    # The organizer's live feed shows it as it comes.
    live.wait_for_selector(".feed-item[data-kind=note]:has-text('ご家族に引き継ぐまで5分かかった')")

    # Without a connection the note waits on the phone, then goes once the network is back.
    context.set_offline(True)
    page.fill("#step-note", "帰り道の横断歩道が危ない")
    page.click("#note-save")
    page.wait_for_selector("#note-status[data-state='waiting']")
    assert page.locator(".saved-note.waiting").count() == 1
    context.set_offline(False)
    page.wait_for_selector("#note-status[data-state='saved']", timeout=20000)
    wait_until(
        lambda: db.session.scalar(sa.select(sa.func.count()).select_from(EncounterNote)) == 2,
        what="the second note",
    )

    # A note typed but not saved is kept as a draft through a reload.
    page.fill("#step-note", "下書き")
    page.reload()
    page.wait_for_selector("body[data-field-ready='1']")
    assert page.input_value("#step-note") == "下書き"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EncounterNote)) == 2

    reflection = organizer_page(f"/drills/{day.id}/reflection")
    notes = reflection.inner_text("#notes-table")
    assert "ご家族に引き継ぐまで5分かかった" in notes and "帰り道の横断歩道が危ない" in notes
    assert "見守 花子" in notes
    report = organizer_page(f"/drills/{day.id}/report")
    assert "ご家族に引き継ぐまで5分かかった" in report.inner_text("#report-notes")
    assert "帰り道の横断歩道が危ない" in report.inner_text("#report-notes")
    exported = report.request.get(f"{live_server.url}/drills/{day.id}/reflection/encounters.csv")
    rows = list(csv.reader(io.StringIO(exported.body().decode("utf-8-sig"))))
    cells = [row[10] for row in rows[1:]]
    assert any("ご家族に引き継ぐまで5分かかった" in cell for cell in cells)
    assert any("帰り道の横断歩道が危ない" in cell for cell in cells)
