"""Every page in English: a walk over every page of the app (staff as organizer, coordinator,
administrator and a newcomer without a district; a supporter's phone; an anonymous visitor) on
the demo data, after switching the language, finds no Japanese character outside user data.

User data is what people typed: templates mark it with class `user-text` (names, titles,
notes ...). The language switch's 「日本語」 carries lang="ja". The map's tile attribution is
the tile provider's name. Everything else a user reads or hears (text, placeholders, titles,
aria-labels, alt texts, button values, the window title) must be English.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from walk_support import Visit, Walker, World, build_world, unplanned_routes, visits

from watchnet.core.extensions import db
from watchnet.people.models import StaffUser, Supporter

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# Kana, kanji and the full-width forms and punctuation that come with them (「」、。・（）).
JAPANESE = (
    r"[\u3000-\u303f\u3040-\u309f\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    r"\uf900-\ufaff\uff01-\uffef]"
)

# Text nodes and user-facing attributes with Japanese in them, outside user data; each as
# "<element path>: text". Hidden elements count too: scripts show them later.
FIND_JAPANESE = r"""(pattern) => {
  const japanese = new RegExp(pattern);
  const skip = '.user-text, [lang=ja], .leaflet-control-attribution, script, style, noscript';
  const where = (el) => {
    const parts = [];
    for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) {
      parts.unshift(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
        + (e.classList.length ? '.' + [...e.classList].join('.') : ''));
    }
    return parts.join(' > ');
  };
  // Attributes and the window title may quote user data that the page shows: take each
  // user-text string out of them first (longest first, so a name inside a title goes whole).
  const quoted = [...new Set([...document.querySelectorAll('.user-text')]
    .map((el) => el.textContent.trim()).filter((t) => t))].sort((a, b) => b.length - a.length);
  const unquote = (value) => quoted.reduce((rest, user) => rest.split(user).join(''), value);
  // An element whose text mixes user data and ours (an <option> cannot hold a span) names the
  // user data it quotes in data-user-text.
  const own = (value, el) => {
    const marked = el.closest('[data-user-text]');
    return marked ? value.split(marked.dataset.userText).join('') : value;
  };
  const found = [];
  if (japanese.test(unquote(document.title))) found.push('title: ' + document.title);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest(skip) || !japanese.test(own(node.nodeValue, el))) continue;
    found.push(where(el) + ': ' + node.nodeValue.trim().slice(0, 120));
  }
  const attributes = ['placeholder', 'title', 'aria-label', 'alt', 'aria-description'];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest(skip)) continue;
    for (const name of attributes) {
      const value = el.getAttribute(name);
      if (value && japanese.test(unquote(own(value, el)))) {
        found.push(where(el) + ' @' + name + ': ' + value);
      }
    }
    if (el.matches('input[type=submit], input[type=button]') && japanese.test(el.value)) {
      found.push(where(el) + ' @value: ' + el.value);
    }
  }
  // The words the page's scripts show later come in its JSON configuration: everything of an
  // "…-i18n" block, and the objects under "text", "strings" or "…labels" keys of the others
  // (their other keys carry data: checkpoints, routes, teams, a note's "text").
  const wording = (key) => /^(text|strings|i18n)$|labels$/i.test(key);
  const visit = (value, path, all) => {
    if (typeof value === 'string') {
      if (all && japanese.test(value)) found.push('json ' + path + ': ' + value);
    } else if (value && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        visit(item, path + '.' + key, all || (wording(key) && typeof item === 'object'));
      }
    }
  };
  for (const script of document.querySelectorAll('script[type="application/json"]')) {
    let data;
    try { data = JSON.parse(script.textContent); } catch (e) { continue; }
    visit(data, '#' + script.id, /-i18n$/.test(script.id));
  }
  return found;
}"""


def _speak_english(world: World) -> None:
    """Every walker's saved language is English (what the language switch stores)."""
    db.session.execute(
        sa.update(StaffUser).where(StaffUser.id.in_(world.logins.values())).values(locale="en")
    )
    db.session.execute(
        sa.update(Supporter).where(Supporter.id == world.supporter_id).values(locale="en")
    )
    db.session.commit()


class EnglishWalker(Walker):
    def prepare(self, page: Any, role: str) -> None:
        if role == "anonymous":
            # An anonymous visitor has no saved language: the switch on the login page.
            page.goto(f"{self.server.url}/login")
            with page.expect_navigation():
                page.click("form[action$='/lang/en'] button")
            assert page.locator("html").get_attribute("lang") == "en"


def test_every_page_in_english_has_no_japanese_outside_user_data(
    app: Flask, live_server: Any, browser: Any
) -> None:
    started = time.monotonic()
    world = build_world(app)
    _speak_english(world)
    built = time.monotonic()
    plan = visits(world)
    assert unplanned_routes(app, plan) == [], "walk these pages or say in NOT_PAGES why not"

    findings: dict[str, list[str]] = {}

    def check(page: Any, visit: Visit) -> None:
        assert page.locator("html").get_attribute("lang") == "en", visit.path
        found = page.evaluate(FIND_JAPANESE, JAPANESE)
        if found:
            findings[f"{visit.role} {visit.path}"] = found

    walker = EnglishWalker(browser, live_server, world, check, locale="en-US")
    walker.walk(plan)
    elapsed = time.monotonic() - started
    print(
        f"\nEnglish walk: {len(walker.visited)} pages in {elapsed:.1f} s "
        f"(data {built - started:.1f} s); slowest: "
        + ", ".join(
            f"{p} {t:.2f} s" for p, t in sorted(walker.timings.items(), key=lambda kv: -kv[1])[:3]
        )
    )
    report = "\n".join(f"{page}\n    " + "\n    ".join(found) for page, found in findings.items())
    if findings:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "walk-english.txt").write_text(report, encoding="utf-8")
    assert findings == {}, f"Japanese outside user data on {len(findings)} pages:\n{report}"
    assert walker.errors == [], walker.errors
