"""Fixtures for the teams tests: a drill like Yawata's, its supporters, and the helpers of the
top-level conftest (plain functions there, so they are reached through the loaded plugin)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import BuildError

from watchnet.core.extensions import db
from watchnet.districts.models import Landmark, LandmarkKind
from watchnet.drills.models import ExpectedContact

ROOT_CONFTEST = Path(__file__).resolve().parent.parent / "conftest.py"

# About 2 km: the demo district's loop past the school and the shrine.
ROUTE_2KM = [
    (36.33365, 138.94621),
    (36.33446, 138.94488),
    (36.33594, 138.94377),
    (36.33698, 138.94517),
    (36.33779, 138.94724),
    (36.33801, 138.94946),
    (36.33698, 138.95094),
    (36.33520, 138.95139),
    (36.33357, 138.95080),
    (36.33217, 138.94961),
    (36.33254, 138.94784),
    (36.33365, 138.94621),
]
CHECKPOINTS_3 = [
    {
        "name": "ポイント1 小学校の角",
        "lat": 36.33616,
        "lon": 138.94406,
        "expected_contact": ExpectedContact.anshin_center,
        "expected_contact_note": "あんしんセンター八幡",
    },
    {
        "name": "ポイント2 八幡宮の鳥居前",
        "lat": 36.33779,
        "lon": 138.94946,
        "expected_contact": ExpectedContact.family,
        "expected_contact_note": "ご家族 (連絡先カード)",
    },
    {
        "name": "ポイント3 公園の入口",
        "lat": 36.33357,
        "lon": 138.95080,
        "expected_contact": ExpectedContact.police,
        "expected_contact_note": "110番 / 八幡駐在所",
    },
]
MEMBERS_6 = [
    ("山田 花子", "やまだ はなこ", "community_supporter"),
    ("高橋 進", "たかはし すすむ", "care_prevention_supporter"),
    ("渡辺 幸子", "わたなべ さちこ", "dementia_supporter"),
    ("吉田 健一", "よしだ けんいち", "care_manager"),
    ("佐藤 一郎", "さとう いちろう", "community_supporter"),
    ("加藤 美智子", "かとう みちこ", "dementia_supporter"),
]


@pytest.fixture(scope="session")
def root_conftest(pytestconfig: pytest.Config) -> ModuleType:
    """tests/conftest.py as loaded by pytest (its helpers are not fixtures)."""
    for plugin in pytestconfig.pluginmanager.get_plugins():
        filename = getattr(plugin, "__file__", None)
        if filename and Path(filename).resolve() == ROOT_CONFTEST:
            return plugin  # type: ignore[no-any-return]
    raise RuntimeError("tests/conftest.py is not loaded")


@pytest.fixture()
def log_in(root_conftest: ModuleType) -> Callable[[FlaskClient, Any], FlaskClient]:
    """log_in(client, staff_user): log in through the real login form."""
    return root_conftest.login  # type: ignore[no-any-return]


@pytest.fixture()
def browser_log_in(root_conftest: ModuleType) -> Callable[[Any, Any, Any], None]:
    """browser_log_in(page, live_server, staff_user): log in with the session cookie
    (support.browser_login); the login form has its own browser test. Go to a page next."""

    def log_in(page: Any, server: Any, user: Any) -> None:
        root_conftest.browser_login(page, server, user)

    return log_in


@pytest.fixture(autouse=True)
def _links_to_pages_not_built_yet(app: Flask) -> Iterator[None]:
    # base.html links to pages other engineers build; until they exist, let such a link be "#".
    def fallback(error: BuildError, endpoint: str, values: dict[str, Any]) -> str:
        if endpoint in app.view_functions:
            raise error
        return "#"

    app.url_build_error_handlers.append(fallback)
    yield
    app.url_build_error_handlers.remove(fallback)


@pytest.fixture()
def english_organizer(organizer: Any) -> Any:
    organizer.locale = "en"
    db.session.commit()
    return organizer


@pytest.fixture()
def yawata_drill(district: Any, make_drill: Callable[..., Any]) -> Any:
    """A drill with a 2 km route, 3 checkpoints and the district's landmarks."""
    db.session.add_all(
        [
            Landmark(
                district_id=district.id,
                name="八幡公民館",
                kind=LandmarkKind.community_hall,
                lat=36.33380,
                lon=138.94600,
            ),
            Landmark(
                district_id=district.id,
                name="八幡小学校",
                kind=LandmarkKind.school,
                lat=36.33640,
                lon=138.94330,
            ),
        ]
    )
    db.session.commit()
    return make_drill(
        district,
        title="第2回 まち歩き見守り声掛け訓練",
        meeting_place="八幡公民館 集会室",
        route=ROUTE_2KM,
        checkpoints=CHECKPOINTS_3,
    )


@pytest.fixture()
def six_supporters(district: Any, make_supporter: Callable[..., Any]) -> list[Any]:
    return [make_supporter(district, name=n, name_kana=k, kind=kind) for n, k, kind in MEMBERS_6]
