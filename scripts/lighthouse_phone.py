"""Lighthouse's accessibility score of the supporter's phone pages, on the walk's demo world
(tests/walk/walk_support.py), served from a throw-away SQLite database on 127.0.0.1.

Not part of the test suite: Lighthouse comes from npm (pinned 12.2.3, the last that runs on
Node 20) and is installed once, outside the project:

    npm install --prefix /tmp/lighthouse lighthouse@12.2.3
    PYTHONPATH=. .venv/bin/python scripts/lighthouse_phone.py /tmp/lighthouse

Prints one line per page: its score (0-100) and the audits that failed. Needs no network
(map tiles that cannot load do not count for accessibility).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("WATCHNET_CHROMIUM", "/usr/bin/chromium")


def main(prefix: str) -> int:
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "walk")]
    workdir = Path(tempfile.mkdtemp(prefix="watchnet-lighthouse-"))
    os.environ["WATCHNET_INSTANCE_PATH"] = str(workdir)
    from conftest import make_test_app  # the tests' app factory (tests/conftest.py)
    from support import LiveServer
    from walk_support import build_world

    from watchnet.core.extensions import db

    url = f"sqlite:///{workdir / 'lighthouse.sqlite3'}"
    app = make_test_app(url)
    with app.app_context():
        db.create_all()
        world = build_world(app)
    server = LiveServer(make_test_app(url, WTF_CSRF_ENABLED=True, TESTING=False))
    server.start()
    try:
        phone = server.app.test_client()
        phone.get(f"/s/{world.phone_signin}")
        name = server.app.config["SESSION_COOKIE_NAME"]
        cookie = phone.get_cookie(name)
        assert cookie is not None, "the personal link did not sign the phone in"
        pages = [
            "/me",
            "/me/channels",
            f"/field/drills/{world.live_id}",
            f"/a/{world.alert_token}",
            f"/a/{world.closed_alert_token}",
            f"/p/{world.practice_token}",
            f"/field/drills/{world.past_id}/feedback",
            f"/field/drills/{world.past_id}/feedback?viewpoint=caller",
        ]
        lighthouse = Path(prefix) / "node_modules" / ".bin" / "lighthouse"
        report = workdir / "report.json"
        for path in pages:
            subprocess.run(
                [
                    str(lighthouse),
                    server.url + path,
                    "--only-categories=accessibility",
                    "--output=json",
                    f"--output-path={report}",
                    "--quiet",
                    "--locale=ja",
                    "--chrome-flags=--headless=new --no-sandbox --disable-dev-shm-usage",
                    "--extra-headers",
                    json.dumps({"Cookie": f"{name}={cookie.value}"}),
                ],
                env=dict(os.environ, CHROME_PATH=CHROMIUM),
                check=True,
                timeout=300,
            )
            data = json.loads(report.read_text(encoding="utf-8"))
            category = data["categories"]["accessibility"]
            failed = [
                ref["id"]
                for ref in category["auditRefs"]
                if ref["weight"] > 0 and data["audits"][ref["id"]]["score"] not in (None, 1)
            ]
            shown = path if len(path) < 50 else path[:47] + "…"
            print(f"{shown:50} {round(category['score'] * 100):3d}  {' '.join(failed)}")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
