"""The Content-Security-Policy in Chromium: a walk over every main page and every map page on
the demo data, as organizer, coordinator and supporter, with a `securitypolicyviolation`
listener and the console watched. No violation may be reported, no script may fail, and each
map must draw (its tiles loaded through img-src, its Leaflet object present)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from support import answer_tiles_offline

from watchnet.alerts.models import AlertRecipient
from watchnet.alerts.services import AlertInput, start_alert
from watchnet.auth.services import make_signin_token
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.demo import DEMO_LOGINS, DRILL_TITLE, YAWATA_CENTER, load_demo_data
from watchnet.districts.models import District, Landmark
from watchnet.drills.models import Drill, Participant
from watchnet.people.models import StaffUser, Supporter
from watchnet.reflection.demo_data import PAST_TITLE, load_demo_reflection
from watchnet.registry.demo_data import load_demo_registry
from watchnet.registry.models import AtRiskPerson

pytestmark = pytest.mark.browser

# Runs before any script of every document: records each violation the browser reports.
LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline")
                              + " at " + e.sourceFile + ":" + e.lineNumber);
});
"""

# A map drew: Leaflet made its container, the page exposed the map object, and tiles loaded
# (which img-src must allow) or, for a page without tiles yet, markers or lines are on it.
MAP_DREW = """() => {
  const maps = Object.values(window.watchnetMaps || {});
  if (!maps.length || !maps.every(m => m && typeof m.getCenter === "function")) return false;
  const containers = document.querySelectorAll(".leaflet-container");
  if (containers.length < maps.length) return false;
  return Array.from(containers).every(c => c.querySelector("img.leaflet-tile-loaded"));
}"""


class Walk:
    """One browser page with its listeners; `visit` checks a page after it loaded."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.console: list[str] = []
        self.errors: list[str] = []
        self.visited: list[str] = []
        answer_tiles_offline(page)
        page.add_init_script(LISTENER)
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))

    def _on_console(self, msg: Any) -> None:
        text = msg.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.console.append(f"{self.page.url}: {text}")

    def login(self, role: str) -> None:
        email, password = DEMO_LOGINS[role]
        self.page.context.clear_cookies()
        self.page.goto(f"{self.base}/login")
        self.page.fill("input[name=email]", email)
        self.page.fill("input[name=password]", password)
        with self.page.expect_navigation():
            self.page.press("input[name=password]", "Enter")
        assert "/login" not in self.page.url, f"{role} could not log in"

    def visit(self, path: str, has_map: bool = False) -> None:
        response = self.page.goto(f"{self.base}{path}")
        assert response is not None and response.status == 200, (path, response and response.status)
        assert response.headers.get("content-security-policy"), path
        if has_map:
            self.page.wait_for_function(MAP_DREW, timeout=10_000)
        else:
            self.page.wait_for_load_state("load")
        violations = self.page.evaluate("window.__cspViolations")
        assert violations == [], (path, violations)
        self.visited.append(path)


@pytest.fixture()
def demo() -> dict[str, Any]:
    """The demo district with its drills, reflection data, registry and an active alert."""
    load_demo_data()
    load_demo_reflection()
    load_demo_registry()
    db.session.commit()
    district = db.session.scalar(sa.select(District).where(District.name == "八幡地区"))
    drill = db.session.scalar(sa.select(Drill).where(Drill.title == DRILL_TITLE))
    past = db.session.scalar(sa.select(Drill).where(Drill.title == PAST_TITLE))
    person = db.session.scalars(
        sa.select(AtRiskPerson).where(AtRiskPerson.district_id == district.id)
    ).first()
    coordinator = db.session.scalar(
        sa.select(StaffUser).where(StaffUser.email == DEMO_LOGINS["coordinator"][0])
    )
    assert district and drill and past and person and coordinator
    alert = start_alert(
        district,
        coordinator,
        AlertInput.from_person(
            person,
            last_seen_at=utcnow() - timedelta(minutes=10),
            last_seen_lat=YAWATA_CENTER[0],
            last_seen_lon=YAWATA_CENTER[1],
            last_seen_place="八幡公民館の前",
            contact_phone="027-000-0000",
            share_photo=True,
            is_exercise=True,
        ),
    )
    recipient = db.session.scalars(
        sa.select(AlertRecipient).where(AlertRecipient.alert_id == alert.id)
    ).first()
    assert recipient is not None, "no demo supporter within the first radius"
    participant = db.session.scalars(
        sa.select(Participant).where(Participant.drill_id == drill.id)
    ).first()
    assert participant is not None
    walker = db.session.get(Supporter, participant.supporter_id)
    some_supporter = db.session.scalars(sa.select(Supporter)).first()
    landmark = db.session.scalars(sa.select(Landmark)).first()
    db.session.commit()
    return {
        "district": district,
        "drill": drill,
        "past": past,
        "person": person,
        "alert": alert,
        "alert_token": recipient.token,
        "walker": walker,
        "supporter": some_supporter,
        "landmark": landmark,
    }


def test_every_page_keeps_the_csp_and_every_map_draws(
    live_server: Any, browser: Any, demo: dict[str, Any]
) -> None:
    district, drill, past = demo["district"], demo["drill"], demo["past"]
    person, alert = demo["person"], demo["alert"]
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="ja-JP", timezone_id="Asia/Tokyo"
    )
    try:
        walk = Walk(context.new_page(), live_server.url)

        walk.login("organizer")
        walk.visit("/drills/")
        walk.visit(f"/drills/{drill.id}", has_map=True)
        walk.visit(f"/drills/{drill.id}/route", has_map=True)
        walk.visit(f"/drills/{drill.id}/teams/")
        walk.visit(f"/drills/{drill.id}/teams/handouts", has_map=True)
        walk.visit(f"/drills/{drill.id}/live", has_map=True)
        walk.visit(f"/drills/{past.id}/reflection")
        walk.visit(f"/drills/{past.id}/replay", has_map=True)
        walk.visit(f"/drills/{past.id}/kpt")
        walk.visit(f"/drills/{past.id}/report")
        walk.visit(f"/drills/{past.id}/newsletter")
        walk.visit(f"/drills/{past.id}/feedback")
        walk.visit("/districts/landmarks", has_map=True)
        walk.visit(f"/districts/landmarks/{demo['landmark'].id}/edit", has_map=True)
        walk.visit("/supporters")
        walk.visit(f"/supporters/{demo['supporter'].id}")
        walk.visit(f"/supporters/{demo['supporter'].id}/card")
        # The print button is wired by static/js/lib/actions.js, not by an onclick.
        walk.page.evaluate("window.print = () => { window.__printed = true; }")
        walk.page.click("[data-action=print]")
        assert walk.page.evaluate("window.__printed") is True
        walk.visit("/account")

        walk.login("coordinator")
        walk.visit("/registry")
        walk.visit(f"/districts/{district.id}/registry")
        walk.visit(f"/registry/{person.id}", has_map=True)
        walk.visit(f"/registry/{person.id}/edit", has_map=True)
        walk.visit(f"/districts/{district.id}/registry/new", has_map=True)
        walk.visit("/alerts")
        walk.visit(f"/districts/{district.id}/alerts/new", has_map=True)
        walk.visit(f"/alerts/{alert.id}", has_map=True)
        walk.visit(f"/alerts/{alert.id}/close", has_map=True)
        walk.visit(f"/alerts/{alert.id}/flyer")

        # A supporter's phone: the personal link, the drill's field page, the alert link.
        walk.page.context.clear_cookies()
        walk.visit(f"/s/{make_signin_token(demo['walker'])}")
        walk.visit(f"/field/drills/{drill.id}", has_map=True)
        walk.visit("/me")
        walk.visit(f"/a/{demo['alert_token']}", has_map=True)

        assert walk.console == [], walk.console
        assert walk.errors == [], walk.errors
        assert len(walk.visited) >= 30
    finally:
        context.close()


def test_the_landmark_delete_asks_first(live_server: Any, page: Any, demo: dict[str, Any]) -> None:
    """The confirmation moved from an onsubmit attribute to actions.js: dismissing it keeps
    the landmark, accepting it deletes."""
    walk = Walk(page, live_server.url)
    walk.login("organizer")
    walk.visit("/districts/landmarks", has_map=True)
    rows = page.locator("form[data-action=confirm]")
    before = rows.count()
    assert before > 0
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.once("dialog", lambda dialog: dialog.dismiss())
    # click() returns once a navigation it started has committed: none may have started.
    rows.first.locator("button[type=submit]").click()
    assert posts == []
    assert rows.count() == before
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        rows.first.locator("button[type=submit]").click()
    assert page.locator("form[data-action=confirm]").count() == before - 1
    assert page.evaluate("window.__cspViolations") == []
