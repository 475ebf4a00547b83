"""Shared fixtures: a real database (SQLite file or WATCHNET_TEST_DATABASE_URL), the app,
HTTP clients, logged-in personas, factories, a live server in a thread and headless Chromium."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from support import (  # noqa: F401 - re-exported for tests that still import conftest
    PASSWORD,
    LiveServer,
    browser_login,
    free_port,
    login,
    signin_supporter,
)

from watchnet import create_app
from watchnet.core.config import normalise_database_url
from watchnet.core.extensions import db

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def _database_url(tmp_root: Path) -> str:
    url = os.environ.get("WATCHNET_TEST_DATABASE_URL")
    if url:
        return _worker_database(normalise_database_url(url))
    return f"sqlite:///{tmp_root / 'test.sqlite3'}"


def _worker_database(url: str) -> str:
    """With pytest-xdist (-n), each worker gets a database of its own beside the given one
    (test → test_gw0, test_gw1 ...), created on first use; SQLite files are per worker anyway."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker or not url.startswith("postgresql"):
        return url
    base = sa.engine.make_url(url)
    name = f"{base.database}_{worker}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar()
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _database_url(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="session")
def instance_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("instance")
    os.environ["WATCHNET_INSTANCE_PATH"] = str(path)
    return path


def make_test_app(database_url: str, **overrides: Any) -> Flask:
    config: dict[str, Any] = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key",
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": None,
        # One round of PBKDF2 instead of scrypt: logins are not what these tests measure.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
    }
    config.update(overrides)
    return create_app(config)


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    Tests run inside an app context (for factories and queries); without this, requests would
    reuse it and share `g` (Flask-Login's cached user) and the database session across
    clients: a second client in the same test would act as the first one's user.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        ctx = self.application.app_context()
        ctx.push()
        try:
            return super().open(*args, **kwargs)
        finally:
            ctx.pop()


@pytest.fixture(scope="session")
def app(database_url: str, instance_path: Path) -> Iterator[Flask]:
    """The app with a fresh schema; CSRF is off so test clients can post forms directly."""
    app = make_test_app(database_url)
    app.test_client_class = IsolatedClient
    with app.app_context():
        db.drop_all()
        db.session.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _wipe(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        tables = list(reversed(db.metadata.sorted_tables))
        with db.engine.begin() as conn:
            for table in tables:
                conn.execute(table.delete())
            if db.engine.dialect.name == "postgresql":
                # Ids start at 1 again, as after TRUNCATE .. RESTART IDENTITY, which costs
                # ~170 ms per test against ~15 ms for these (the tables hold a few rows).
                conn.execute(
                    sa.text(
                        "SELECT setval(c.oid, 1, false) FROM pg_class c "
                        "WHERE c.relkind = 'S' AND c.relnamespace = current_schema()::regnamespace"
                    )
                )


# Append-only logs that no page's access depends on; left out of database_fingerprint.
FINGERPRINT_SKIPS = frozenset({"audit_event", "login_attempt"})


def database_fingerprint() -> str:
    """A digest of every row of every table (but FINGERPRINT_SKIPS): tests that share data
    built once per module (marker module_data) compare it to know the data is as built."""
    import hashlib

    digest = hashlib.sha256()
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            if table.name in FINGERPRINT_SKIPS:
                continue
            digest.update(table.name.encode())
            pk = list(table.primary_key.columns) or list(table.columns)
            for row in conn.execute(sa.select(table).order_by(*pk)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


@pytest.fixture(autouse=True)
def _clean_database(app: Flask, request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts with empty tables and runs inside an app context.

    A test marked module_data instead uses data its module built once: its module's fixture
    checks the data with database_fingerprint and rebuilds it when a test changed it."""
    if request.node.get_closest_marker("module_data") is None:
        _wipe(app)
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture()
def csrf_app(database_url: str, instance_path: Path) -> Flask:
    """A second app on the same database with CSRF protection on, as in production."""
    app = make_test_app(database_url, WTF_CSRF_ENABLED=True)
    app.test_client_class = IsolatedClient
    return app


# ---------------------------------------------------------------------------------------------
# Factories


@pytest.fixture()
def make_district() -> Callable[..., Any]:
    from watchnet.districts.models import District

    counter = iter(range(1, 10_000))

    def factory(**overrides: Any) -> District:
        n = next(counter)
        values: dict[str, Any] = {
            "name": f"テスト地区{n}",
            "name_kana": f"てすとちく{n}",
            "center_lat": 36.3335,
            "center_lon": 138.9455,
        }
        values.update(overrides)
        district = District(**values)
        db.session.add(district)
        db.session.commit()
        return district

    return factory


@pytest.fixture()
def make_staff() -> Callable[..., Any]:
    from watchnet.people.models import StaffRole, StaffUser

    counter = iter(range(1, 10_000))

    def factory(
        districts: list[Any] | None = None, role: str = "organizer", **overrides: Any
    ) -> StaffUser:
        n = next(counter)
        user = StaffUser(
            email=overrides.pop("email", f"staff{n}@example.jp"),
            name=overrides.pop("name", f"職員 {n}"),
            role=StaffRole(role),
            districts=list(districts or []),
            **overrides,
        )
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
        return user

    return factory


@pytest.fixture()
def make_supporter() -> Callable[..., Any]:
    from watchnet.people.services import register_supporter

    counter = iter(range(1, 10_000))

    def factory(district: Any, **overrides: Any) -> Any:
        n = next(counter)
        values: dict[str, Any] = {
            "name": f"支援 太郎{n}",
            "name_kana": f"しえん たろう{n}",
            "kind": "community_supporter",
            "email": f"supporter{n}@example.jp",
        }
        values.update(overrides)
        supporter = register_supporter(district, **values)
        db.session.commit()
        return supporter

    return factory


@pytest.fixture()
def make_drill() -> Callable[..., Any]:
    from watchnet.drills.models import Checkpoint, Drill, RoutePoint

    def factory(district: Any, **overrides: Any) -> Drill:
        values: dict[str, Any] = {
            "title": "テスト訓練",
            "starts_at": datetime.now(UTC) + timedelta(days=7),
            "meeting_place": "公民館",
            "purpose": "見守り体制の強化",
            "background": "行方不明の経験から",
        }
        route = overrides.pop(
            "route", [(36.3330, 138.9450), (36.3340, 138.9460), (36.3350, 138.9470)]
        )
        checkpoints = overrides.pop(
            "checkpoints",
            [
                {"name": "ポイント1", "lat": 36.3340, "lon": 138.9461},
            ],
        )
        values.update(overrides)
        drill = Drill(
            district_id=district.id,
            **values,
            route_points=[RoutePoint(seq=i, lat=a, lon=b) for i, (a, b) in enumerate(route)],
            checkpoints=[Checkpoint(seq=i, **cp) for i, cp in enumerate(checkpoints)],
        )
        db.session.add(drill)
        db.session.commit()
        return drill

    return factory


# ---------------------------------------------------------------------------------------------
# Personas


@pytest.fixture()
def district(make_district: Callable[..., Any]) -> Any:
    return make_district(name="八幡地区")


@pytest.fixture()
def other_district(make_district: Callable[..., Any]) -> Any:
    return make_district(name="寺尾地区")


@pytest.fixture()
def organizer(make_staff: Callable[..., Any], district: Any) -> Any:
    return make_staff([district], role="organizer", email="organizer@example.jp")


@pytest.fixture()
def coordinator(make_staff: Callable[..., Any], district: Any) -> Any:
    return make_staff([district], role="coordinator", email="coordinator@example.jp")


@pytest.fixture()
def outsider(make_staff: Callable[..., Any], other_district: Any) -> Any:
    """An organizer of another district: must see nothing of `district`."""
    return make_staff([other_district], role="organizer", email="outsider@example.jp")


@pytest.fixture()
def supporter(make_supporter: Callable[..., Any], district: Any) -> Any:
    return make_supporter(district, name="見守 花子", name_kana="みまもり はなこ")


@pytest.fixture()
def organizer_client(app: Flask, organizer: Any) -> FlaskClient:
    return login(app.test_client(), organizer)


@pytest.fixture()
def outsider_client(app: Flask, outsider: Any) -> FlaskClient:
    return login(app.test_client(), outsider)


@pytest.fixture()
def supporter_client(app: Flask, supporter: Any) -> FlaskClient:
    return signin_supporter(app.test_client(), supporter)


# ---------------------------------------------------------------------------------------------
# Live server and browser


@pytest.fixture(scope="session")
def live_server(database_url: str, instance_path: Path, app: Flask) -> Iterator[LiveServer]:
    """The app served over real HTTP on 127.0.0.1, CSRF on, same database as `app`."""
    server = LiveServer(make_test_app(database_url, WTF_CSRF_ENABLED=True, TESTING=False))
    server.start()
    yield server
    server.stop()


def _wait_for_function_without_eval() -> None:
    """The app's CSP has no 'unsafe-eval' (issue 9). Playwright runs a bare expression given
    to wait_for_function through eval in the page, which that CSP blocks (EvalError); a
    function it calls directly. So bare expressions become arrow functions here, once."""
    import re

    from playwright.sync_api import Frame, Page

    looks_like_function = re.compile(r"^\s*(async\s+)?(function\b|\(?[\w\s,]*\)?\s*=>)")
    for cls in (Page, Frame):
        original = cls.wait_for_function
        if getattr(original, "_wraps_expressions", False):
            continue

        def wait_for_function(
            self: Any, expression: str, *args: Any, _original: Any = original, **kwargs: Any
        ) -> Any:
            if not looks_like_function.match(expression):
                expression = f"() => ({expression})"
            return _original(self, expression, *args, **kwargs)

        wait_for_function._wraps_expressions = True  # type: ignore[attr-defined]
        cls.wait_for_function = wait_for_function  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    _wait_for_function_without_eval()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=os.environ.get("WATCHNET_CHROMIUM", "/usr/bin/chromium"),
            args=[
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture()
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A desktop-sized page; a screenshot lands in test-artifacts/ when the test fails."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="ja-JP", timezone_id="Asia/Tokyo"
    )
    page = context.new_page()
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)


# ---------------------------------------------------------------------------------------------
# Real sinks: an SMTP server (aiosmtpd) and a webhook receiver (http.server) on 127.0.0.1


class SmtpSink:
    """Collects every message; recipients listed in `refuse` get a permanent 550."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Any] = []
        self.refuse: set[str] = set()
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes
        from email.policy import default

        message = message_from_bytes(envelope.content, policy=default)
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted"

    def to(self, address: str) -> list[Any]:
        with self.lock:
            return [m for m in self.messages if address in str(m["To"])]

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Any]:
        import time

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        return list(self.messages)


@pytest.fixture()
def smtp_sink(app: Flask) -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.controller.start()
    previous = (app.config["SMTP_HOST"], app.config["SMTP_PORT"])
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=sink.port)
    yield sink
    app.config.update(SMTP_HOST=previous[0], SMTP_PORT=previous[1])
    sink.controller.stop()


class WebhookSink:
    """An http.server that records JSON posts; paths in `fail_with` answer that status."""

    def __init__(self) -> None:
        import http.server
        import json

        sink = self
        self.posts: list[tuple[str, Any]] = []
        self.fail_with: dict[str, int] = {}
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                status = sink.fail_with.get(self.path, 200)
                if status == 200:
                    with sink.lock:
                        sink.posts.append((self.path, json.loads(raw or b"null")))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def to(self, path: str) -> list[Any]:
        with self.lock:
            return [body for p, body in self.posts if p == path]


@pytest.fixture()
def webhook_sink() -> Iterator[WebhookSink]:
    sink = WebhookSink()
    sink.thread.start()
    yield sink
    sink.server.shutdown()
    sink.server.server_close()
