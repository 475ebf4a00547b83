"""The installable app in headless Chromium on a phone-sized screen: the supporter pages
register the service worker; the manifest the page links has the icons (decoded by the
browser at the stated sizes) and the display mode; a reload without network shows the page
and what is still queued on the phone; the alert page's stored copy goes at the all-clear and
when the access ends; a push message shows a notification, and tapping it (through a desktop
notification server, notification_support.py) opens the supporter's alert page; the
notification button of /me subscribes and stores the subscription, or deletes it."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "alerts"))
from alert_field_support import PERSONAL, start_field_alert  # noqa: E402

from watchnet.alerts.models import AlertRecipient, AlertStatus  # noqa: E402
from watchnet.alerts.services import close_alert  # noqa: E402
from watchnet.audit.models import AuditEvent  # noqa: E402
from watchnet.auth.services import make_signin_token, revoke_signin_token  # noqa: E402
from watchnet.core.extensions import db  # noqa: E402
from watchnet.drills.models import DrillStatus, Participant  # noqa: E402
from watchnet.people.models import PushSubscription  # noqa: E402
from watchnet.tracking.models import EncounterStep  # noqa: E402

pytestmark = pytest.mark.browser

PAGES_CACHE = "watchnet-pages-v1"
AT_CHECKPOINT = {"latitude": 36.33405, "longitude": 138.94615, "accuracy": 12}


def wait_until(predicate: Callable[[], Any], timeout_s: float = 15.0, what: str = "") -> Any:
    """Poll the database until the predicate holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        db.session.expire_all()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.1)


def wait_in_page(page: Any, script: str, arg: Any = None, timeout_s: float = 15.0) -> Any:
    """Until an async script in the page returns something truthy. (wait_for_function does
    not await a promise: a pending one already counts as true.)"""
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(script, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting in the page for {script}")
        page.wait_for_timeout(100)


def assert_accessible(page: Any) -> None:
    """axe finds nothing serious or critical on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    serious = [
        v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")
    ]
    assert serious == [], [(v["id"], [n["target"] for n in v["nodes"]]) for v in serious]


def wait_for_worker(page: Any) -> None:
    """Until the worker is active and controls the page (it claims open pages at once)."""
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")


def stored_pages(page: Any) -> list[str]:
    """The paths of the pages the worker keeps for use without network."""
    return list(
        page.evaluate(
            """async (name) => {
                if (!(await caches.has(name))) { return []; }
                const cache = await caches.open(name);
                return (await cache.keys()).map((r) => new URL(r.url).pathname);
            }""",
            PAGES_CACHE,
        )
    )


def wait_for_stored(page: Any, path: str) -> None:
    wait_in_page(
        page,
        """async ([name, path]) => {
            const cache = await caches.open(name);
            return (await cache.keys()).some((r) => new URL(r.url).pathname === path);
        }""",
        [PAGES_CACHE, path],
    )


@pytest.fixture()
def live_drill(district: Any, make_drill: Any, supporter: Any) -> Any:
    drill = make_drill(
        district,
        title="第2回 まち歩き見守り声掛け訓練",
        status=DrillStatus.live,
        starts_at=datetime.now(UTC) - timedelta(minutes=30),
        started_at=datetime.now(UTC) - timedelta(minutes=30),
        checkpoints=[{"name": "八幡公民館前", "lat": 36.3340, "lon": 138.9461}],
    )
    db.session.add(Participant(drill_id=drill.id, supporter_id=supporter.id))
    db.session.commit()
    return drill


# ---------------------------------------------------------------------------------------------
# The worker, the manifest and a reload without network


def test_the_field_page_registers_the_worker_and_links_a_manifest_with_real_icons(
    live_server: Any, phone_context: Any, supporter: Any, live_drill: Any
) -> None:
    page = phone_context(geolocation=AT_CHECKPOINT, permissions=["geolocation"]).new_page()
    page.goto(f"{live_server.url}/s/{make_signin_token(supporter)}")
    assert page.url == f"{live_server.url}/field/drills/{live_drill.id}"
    wait_for_worker(page)
    registration = page.evaluate(
        """async () => { const r = await navigator.serviceWorker.ready;
                         return {scope: r.scope, script: r.active.scriptURL}; }"""
    )
    assert registration == {"scope": live_server.url + "/", "script": live_server.url + "/sw.js"}

    manifest = page.evaluate(
        """async () => {
            const link = document.querySelector('link[rel="manifest"]');
            const res = await fetch(link.href);
            const body = await res.json();
            const icons = [];
            for (const icon of body.icons) {
                const img = new Image();
                img.src = new URL(icon.src, link.href).href;
                await img.decode();  // a real image, or this throws
                icons.push({sizes: icon.sizes, purpose: icon.purpose,
                            drawn: img.naturalWidth + "x" + img.naturalHeight});
            }
            return {type: res.headers.get("content-type"), display: body.display,
                    start_url: body.start_url, name: body.name, icons};
        }"""
    )
    assert manifest["type"] == "application/manifest+json"
    assert manifest["display"] == "standalone"
    assert manifest["start_url"] == "/me"
    assert manifest["name"] == "watchnet 見守りサポーター"
    assert {i["sizes"] for i in manifest["icons"]} >= {"192x192", "512x512"}
    for icon in manifest["icons"]:
        assert icon["drawn"] == icon["sizes"], icon
    # The page opened before the worker controlled it asked the worker to keep it.
    wait_for_stored(page, f"/field/drills/{live_drill.id}")


def test_a_reload_without_network_shows_the_field_page_with_what_is_still_queued(
    live_server: Any, phone_context: Any, supporter: Any, live_drill: Any
) -> None:
    context = phone_context(geolocation=AT_CHECKPOINT, permissions=["geolocation"])
    page = context.new_page()
    page.goto(f"{live_server.url}/s/{make_signin_token(supporter)}")
    page.wait_for_selector("body[data-field-ready='1']")
    wait_for_worker(page)
    wait_for_stored(page, f"/field/drills/{live_drill.id}")

    context.set_offline(True)
    page.click("#encounter-btn")
    page.click(".step-btn[data-step='noticed']")
    page.wait_for_selector(".step.done[data-step='noticed']")
    assert page.get_attribute("#queue-status", "data-actions") == "1"

    response = page.reload()
    assert response is not None and response.from_service_worker
    assert response.status == 200
    page.wait_for_selector("body[data-field-ready='1']")
    # The page itself — not the browser's "no internet" page — with the step still waiting.
    assert page.title().startswith("第2回 まち歩き見守り声掛け訓練")
    assert page.get_attribute("#queue-status", "data-actions") == "1"
    assert "送信待ち 1件" in page.inner_text("#queue-status")
    # Leaflet and the page's modules came from the worker's shell: the map is drawn.
    assert page.evaluate("() => !!(window.L && window.watchnetMaps && window.watchnetMaps.main)")
    assert page.locator(".leaflet-container").count() == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EncounterStep)) == 0

    context.set_offline(False)
    page.wait_for_function(
        "() => document.getElementById('queue-status').dataset.actions === '0'", timeout=20000
    )
    wait_until(
        lambda: db.session.scalar(
            sa.select(EncounterStep).where(EncounterStep.supporter_id == supporter.id)
        ),
        what="the step sent after the reload",
    )


def test_a_supporter_page_never_kept_shows_the_offline_page_not_the_browsers_error(
    live_server: Any, phone_context: Any, supporter: Any, live_drill: Any
) -> None:
    context = phone_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/s/{make_signin_token(supporter)}")
    wait_for_worker(page)
    context.set_offline(True)
    response = page.goto(f"{live_server.url}/field/drills/999999")
    assert response is not None and response.from_service_worker
    assert page.locator("#offline-title").inner_text() == "接続がありません"
    assert supporter.name not in page.content()


# ---------------------------------------------------------------------------------------------
# The alert page's stored copy: kept while the alert runs, gone at the all-clear and when the
# access ends


def test_the_alert_page_is_kept_offline_only_until_the_all_clear(
    live_server: Any, phone_context: Any, district: Any, coordinator: Any, make_supporter: Any
) -> None:
    fa = start_field_alert(district, coordinator, make_supporter, supporters=1)
    context = phone_context()
    page = context.new_page()
    page.goto(live_server.url + fa.url)
    page.wait_for_selector("body[data-alert-ready='1']")
    wait_for_worker(page)
    wait_for_stored(page, fa.url)

    # The worker's one fetch to keep the page is told apart from the supporter's views.
    def views() -> list[str]:
        query = sa.select(AuditEvent).where(AuditEvent.action == "view_alert_link")
        whats = (str(v.detail.get("what")) for v in db.session.scalars(query))
        return sorted(w for w in whats if not w.startswith("photo:"))

    wait_until(lambda: len(views()) >= 2, what="the audit records")
    assert views() == ["offline_copy", "page"]

    context.set_offline(True)
    response = page.reload()
    assert response is not None and response.from_service_worker
    page.wait_for_selector("body[data-alert-ready='1']")
    assert "紺色のジャンパー" in page.inner_text(".alert-facts")
    context.set_offline(False)

    close_alert(fa.alert, outcome=AlertStatus.found, actor="test")
    db.session.commit()
    page.wait_for_selector("body[data-alert-status='found']", timeout=20000)
    wait_in_page(
        page,
        """async (name) => { const c = await caches.open(name);
                             return (await c.keys()).length === 0; }""",
        PAGES_CACHE,
    )
    context.set_offline(True)
    page.reload()
    assert page.locator("#offline-title").inner_text() == "接続がありません"
    html = page.content()
    for detail in PERSONAL:
        assert detail not in html


def test_a_refused_supporter_page_deletes_every_stored_page_of_the_phone(
    live_server: Any,
    phone_context: Any,
    supporter: Any,
    live_drill: Any,
) -> None:
    page = phone_context().new_page()
    page.goto(f"{live_server.url}/s/{make_signin_token(supporter)}")
    wait_for_worker(page)
    page.goto(f"{live_server.url}/me")
    wait_for_stored(page, "/me")
    wait_for_stored(page, f"/field/drills/{live_drill.id}")

    revoke_signin_token(supporter)  # the organizer ends this supporter's link
    db.session.commit()
    response = page.goto(f"{live_server.url}/me")
    assert response is not None and response.status == 403
    wait_in_page(page, "async (name) => !(await caches.has(name))", PAGES_CACHE)
    assert stored_pages(page) == []


# ---------------------------------------------------------------------------------------------
# Push: a message shows a notification; tapping it opens the alert page


def _registration_id(page: Any, cdp: Any, origin: str) -> str:
    found: dict[str, str] = {}

    def seen(event: dict[str, Any]) -> None:
        for reg in event["registrations"]:
            if reg["scopeURL"] == origin + "/" and not reg.get("isDeleted"):
                found["id"] = reg["registrationId"]

    cdp.on("ServiceWorker.workerRegistrationUpdated", seen)
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 10
    while "id" not in found:
        assert time.monotonic() < deadline, "no service worker registration"
        page.wait_for_timeout(50)
    return found["id"]


def _push(cdp: Any, origin: str, registration_id: str, payload: Any) -> None:
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": origin, "registrationId": registration_id, "data": data},
    )


def _notifications(page: Any, count: int) -> list[dict[str, Any]]:
    wait_in_page(
        page,
        """async (n) => (await (await navigator.serviceWorker.ready).getNotifications())
            .length >= n""",
        count,
    )
    return list(
        page.evaluate(
            """async () => (await (await navigator.serviceWorker.ready).getNotifications())
                .map((n) => ({title: n.title, body: n.body, tag: n.tag, data: n.data,
                              icon: n.icon, badge: n.badge}))"""
        )
    )


def test_every_push_message_shows_a_notification_that_points_at_this_site_only(
    live_server: Any, phone_context: Any, supporter: Any
) -> None:
    origin = live_server.url
    context = phone_context()
    context.grant_permissions(["notifications"], origin=origin)
    page = context.new_page()
    page.goto(f"{origin}/s/{make_signin_token(supporter)}")
    wait_for_worker(page)
    cdp = context.new_cdp_session(page)
    reg = _registration_id(page, cdp, origin)

    _push(
        cdp,
        origin,
        reg,
        {
            "title": "【訓練】捜索のお願い",
            "body": "近くで行方不明の方がいます",
            "url": f"{origin}/a/abcdefghijklmnopqrstuvwxyz",
            "tag": "alert:1",
        },
    )
    [shown] = _notifications(page, 1)
    assert shown["title"] == "【訓練】捜索のお願い"
    assert shown["body"] == "近くで行方不明の方がいます"
    assert shown["tag"] == "alert:1"
    assert shown["data"] == {"url": f"{origin}/a/abcdefghijklmnopqrstuvwxyz"}
    assert shown["icon"] == f"{origin}/static/icons/icon-192.png"
    assert shown["badge"] == f"{origin}/static/icons/badge-96.png"

    # Another site's URL is refused (the supporter's home instead); a payload that is not
    # JSON, or none at all, still shows a notification.
    _push(cdp, origin, reg, {"title": "x", "url": "https://evil.example/phish", "tag": "t2"})
    _push(cdp, origin, reg, "not json at all")
    _push(cdp, origin, reg, "")
    shown_all = _notifications(page, 4)
    by_title = {n["title"]: n for n in shown_all}
    assert by_title["x"]["data"] == {"url": f"{origin}/me"}
    bodies = [n["body"] for n in shown_all if n["title"] == "watchnet"]
    assert "not json at all" in bodies
    assert "新しいお知らせがあります。タップして開いてください。" in bodies


def test_tapping_the_notification_of_a_push_opens_the_supporters_alert_page(
    live_server: Any,
    phone_with_desktop: Any,
    district: Any,
    coordinator: Any,
    make_supporter: Any,
) -> None:
    """The tap is a real one: the desktop notification server sends Chromium the
    ActionInvoked signal a person's click sends, and Chromium dispatches a trusted
    notificationclick to the worker (which may then open a window)."""
    context, desktop = phone_with_desktop
    origin = live_server.url
    fa = start_field_alert(district, coordinator, make_supporter, supporters=1)
    recipient = fa.recipients[0]
    assert recipient.opened_at is None
    context.grant_permissions(["notifications"], origin=origin)
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(f"{origin}/s/{make_signin_token(recipient.supporter)}")
    wait_for_worker(page)
    cdp = context.new_cdp_session(page)
    reg = _registration_id(page, cdp, origin)

    alert_url = origin + fa.url
    _push(
        cdp,
        origin,
        reg,
        {
            "title": "【訓練】捜索のお願い",
            "body": "八幡地区で捜索しています",
            "url": alert_url,
            "tag": f"alert:{fa.alert.id}",
        },
    )
    [shown] = desktop.wait_for_shown(1)
    assert shown.summary == "【訓練】捜索のお願い"
    assert "八幡地区で捜索しています" in shown.body
    assert "default" in shown.actions  # Chromium offers the click as the default action

    with context.expect_page(timeout=15000) as opened:
        desktop.click(shown.id)
    alert_page = opened.value
    alert_page.wait_for_selector("body[data-alert-ready='1']")
    assert alert_page.url == alert_url
    assert "紺色のジャンパー" in alert_page.inner_text(".alert-facts")
    desktop.wait_for_closed(shown.id)  # the worker closed the tapped notification
    wait_until(
        lambda: db.session.get_one(AlertRecipient, recipient.id).opened_at is not None,
        what="the alert marked as opened",
    )

    # With the alert page open, a second tap focuses it instead of opening another window.
    alert_page.evaluate(
        """() => { window.__taps = [];
                   navigator.serviceWorker.addEventListener("message", (e) => {
                       if (e.data && e.data.type === "notification-tap") {
                           window.__taps.push(e.data.url); } }); }"""
    )
    pages_before = len(context.pages)
    _push(
        cdp,
        origin,
        reg,
        {
            "title": "捜索範囲が広がりました",
            "body": "",
            "url": alert_url,
            "tag": f"alert:{fa.alert.id}",
        },
    )
    second = desktop.wait_for_shown(2)[1]
    desktop.click(second.id)
    # The worker focused the open alert page and told it so; no second window opened.
    alert_page.wait_for_function("() => window.__taps.length === 1")
    assert alert_page.evaluate("() => window.__taps") == [alert_url]
    assert len(context.pages) == pages_before


# ---------------------------------------------------------------------------------------------
# The supporter's page: the notification button and the install guide

# Headless Chromium cannot reach a push service (FCM), so subscribe() would never answer:
# the page's PushManager gets a stand-in that returns a subscription as Chrome's looks.
# Everything else is real: the permission request on the tap, the POST with the CSRF token,
# the stored row, the words on the page, and the DELETE on turning off.
FAKE_PUSH_MANAGER = """
(() => {
  // The subscription outlives a reload, as the browser's does (kept in sessionStorage); each
  // subscribe() gives a new endpoint, as a push service does.
  const state = { calls: [], unsubscribed: false };
  window.__push = state;
  function b64(bytes) { return btoa(String.fromCharCode(...bytes)).replace(/\\+/g, "-")
                          .replace(/\\//g, "_").replace(/=+$/, ""); }
  function unb64(text) {
    const plain = text.replace(/-/g, "+").replace(/_/g, "/");
    const raw = atob(plain + "===".slice((plain.length + 3) % 4));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }
  function make(saved) {
    const p256dh = b64(new Uint8Array([4, ...Array.from({ length: 64 }, (_, i) => i + 1)]));
    const auth = b64(new Uint8Array(16).fill(7));
    return {
      endpoint: saved.endpoint,
      options: { applicationServerKey: unb64(saved.key).buffer, userVisibleOnly: true },
      toJSON() { return { endpoint: this.endpoint, expirationTime: null,
                          keys: { p256dh: p256dh, auth: auth } }; },
      unsubscribe() {
        sessionStorage.removeItem("__fakePush");
        state.unsubscribed = true;
        return Promise.resolve(true);
      }
    };
  }
  PushManager.prototype.subscribe = function (options) {
    const key = b64(new Uint8Array(options.applicationServerKey));
    state.calls.push({ userVisibleOnly: options.userVisibleOnly, key: key });
    const n = Number(sessionStorage.getItem("__fakePushCount") || "0") + 1;
    sessionStorage.setItem("__fakePushCount", String(n));
    const saved = { key: key, endpoint: "https://fcm.googleapis.com/fcm/send/test-device-" + n };
    sessionStorage.setItem("__fakePush", JSON.stringify(saved));
    return Promise.resolve(make(saved));
  };
  PushManager.prototype.getSubscription = function () {
    const saved = sessionStorage.getItem("__fakePush");
    return Promise.resolve(saved ? make(JSON.parse(saved)) : null);
  };
})();
"""


def test_the_notification_button_subscribes_on_a_tap_and_says_so(
    live_server: Any, phone_context: Any, supporter: Any, vapid_key: str
) -> None:
    origin = live_server.url
    context = phone_context()
    context.grant_permissions(["notifications"], origin=origin)
    context.add_init_script(FAKE_PUSH_MANAGER)
    page = context.new_page()
    page.goto(f"{origin}/s/{make_signin_token(supporter)}")
    page.goto(f"{origin}/me")
    page.wait_for_selector("body[data-me-ready='1']")
    status = page.locator("#notify-status")
    button = page.get_by_role("button", name="通知をオンにする")
    page.wait_for_selector("#notify-status[data-state='off']")
    assert status.inner_text() == "このスマートフォンの通知はオフです。"
    assert_accessible(page)
    assert page.evaluate("() => window.__push.calls.length") == 0  # nothing before the tap

    button.click()
    page.wait_for_selector("#notify-status[data-state='on']")
    assert status.inner_text() == "このスマートフォンの通知はオンです。"
    calls = page.evaluate("() => window.__push.calls")
    assert calls == [{"userVisibleOnly": True, "key": vapid_key}]
    row = wait_until(
        lambda: db.session.scalar(sa.select(PushSubscription)), what="the stored subscription"
    )
    assert row.supporter_id == supporter.id
    assert row.endpoint == "https://fcm.googleapis.com/fcm/send/test-device-1"

    # A reload knows it: the server has this phone's subscription.
    page.reload()
    page.wait_for_selector("#notify-status[data-state='on']")
    page.get_by_role("button", name="通知をオフにする").click()
    page.wait_for_selector("#notify-status[data-state='off']")
    assert page.evaluate("() => window.__push.unsubscribed") is True
    wait_until(
        lambda: db.session.scalar(sa.select(sa.func.count()).select_from(PushSubscription)) == 0,
        what="the subscription deleted",
    )


def test_a_subscription_the_push_service_dropped_shows_as_off_and_a_tap_renews_it(
    live_server: Any, phone_context: Any, supporter: Any, vapid_key: str
) -> None:
    origin = live_server.url
    context = phone_context()
    context.grant_permissions(["notifications"], origin=origin)
    context.add_init_script(FAKE_PUSH_MANAGER)
    page = context.new_page()
    page.goto(f"{origin}/s/{make_signin_token(supporter)}")
    page.goto(f"{origin}/me")
    page.get_by_role("button", name="通知をオンにする").click()
    page.wait_for_selector("#notify-status[data-state='on']")
    old = wait_until(lambda: db.session.scalar(sa.select(PushSubscription)), what="a row")
    # The push service answered 410 to a message: the dispatcher switched the row off.
    old.is_enabled, old.disabled_reason = False, "410 Gone"
    db.session.commit()

    page.reload()
    page.wait_for_selector("#notify-status[data-state='off']")
    page.get_by_role("button", name="通知をオンにする").click()
    page.wait_for_selector("#notify-status[data-state='on']")
    # The dead subscription was dropped in the browser and a new one made (since the reload).
    assert page.evaluate("() => window.__push.unsubscribed") is True
    assert len(page.evaluate("() => window.__push.calls")) == 1
    rows = wait_until(
        lambda: db.session.scalars(
            sa.select(PushSubscription).where(PushSubscription.is_enabled.is_(True))
        ).all(),
        what="a new subscription",
    )
    assert [r.endpoint for r in rows] == ["https://fcm.googleapis.com/fcm/send/test-device-2"]


def test_blocked_notifications_are_explained_without_a_button(
    live_server: Any, phone_context: Any, supporter: Any, vapid_key: str
) -> None:
    context = phone_context()
    # A phone whose browser says notifications are blocked for this site.
    context.add_init_script(
        "Object.defineProperty(Notification, 'permission', { get: () => 'denied' });"
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/s/{make_signin_token(supporter)}")
    page.goto(f"{live_server.url}/me")
    page.wait_for_selector("#notify-status[data-state='denied']")
    assert "ブロックされています" in page.inner_text("#notify-status")
    assert page.locator("#notify-btn").is_hidden()


def test_the_install_guide_offers_the_browsers_prompt_and_hides_in_the_installed_app(
    live_server: Any, phone_context: Any, supporter: Any
) -> None:
    context = phone_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/s/{make_signin_token(supporter)}")
    page.goto(f"{live_server.url}/me")
    page.wait_for_selector("body[data-me-ready='1']")
    guide = page.locator("#install-guide")
    assert guide.is_visible()
    text = guide.inner_text()
    assert "「ホーム画面に追加」または「アプリをインストール」" in text
    assert "共有ボタン" in text and "iOS 16.4以降" in text
    assert page.locator("#install-btn").is_hidden()
    assert float(guide.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")) >= 20
    assert_accessible(page)

    # Chrome offers installing: the page's own button opens Chrome's prompt.
    page.evaluate(
        """() => {
            const offer = new Event("beforeinstallprompt", { cancelable: true });
            offer.prompt = () => { window.__prompted = true; return Promise.resolve(); };
            offer.userChoice = Promise.resolve({ outcome: "accepted" });
            window.dispatchEvent(offer);
        }"""
    )
    page.get_by_role("button", name="アプリをインストール").click()
    assert page.evaluate("() => window.__prompted") is True
    page.wait_for_selector("#install-btn", state="hidden")

    # Opened from the home screen (iPhone: navigator.standalone), the guide is not shown.
    context.add_init_script("Object.defineProperty(navigator, 'standalone', { get: () => true });")
    page.reload()
    page.wait_for_selector("body[data-me-ready='1']")
    assert page.locator("#install-guide").is_hidden()
