"""axe on every page: the same walk as the English one (every page of the URL map, staff as
organizer, coordinator, administrator and a newcomer without a district, a supporter's phone
at 360 × 740, an anonymous visitor) in Japanese, with axe-core run on each page as drawn
(maps with their tiles, the live view with its feed). No violation of any impact may remain."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from walk_support import Visit, Walker, build_world, unplanned_routes, visits

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_axe_finds_no_violation_on_any_page(app: Flask, live_server: Any, browser: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    started = time.monotonic()
    world = build_world(app)
    plan = visits(world)
    assert unplanned_routes(app, plan) == [], "walk these pages or say in NOT_PAGES why not"
    axe = Axe()
    found: dict[str, list[str]] = {}
    axe_time: list[float] = []

    def check(page: Any, visit: Visit) -> None:
        assert page.locator("html").get_attribute("lang") == "ja", visit.path
        t0 = time.monotonic()
        results = axe.run(page)
        axe_time.append(time.monotonic() - t0)
        problems = [
            f"{v['id']} ({v['impact']}): {v['help']} — "
            + "; ".join(" ".join(n["target"]) + " " + n["html"][:140] for n in v["nodes"][:4])
            for v in results.response["violations"]
        ]
        if problems:
            found[f"{visit.role} {visit.path}"] = problems

    walker = Walker(browser, live_server, world, check, locale="ja-JP")
    walker.walk(plan)
    elapsed = time.monotonic() - started
    print(
        f"\naxe walk: {len(walker.visited)} pages in {elapsed:.1f} s, axe itself "
        f"{sum(axe_time):.1f} s (slowest {max(axe_time):.2f} s)"
    )
    report = "\n".join(f"{page}\n    " + "\n    ".join(v) for page, v in found.items())
    if found:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "walk-axe.txt").write_text(report, encoding="utf-8")
    assert found == {}, f"axe violations on {len(found)} pages:\n{report}"
    assert walker.errors == [], walker.errors
