"""schemathesis against the JSON API's own /api/openapi.json, on a live server.

    .venv/bin/python scripts/api_fuzz.py                       # SQLite in a temporary folder
    WATCHNET_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test_x \
        .venv/bin/python scripts/api_fuzz.py --max-examples 30

The app is served over real HTTP on 127.0.0.1 with a fresh schema, one district with a drill,
a landmark and a supporter, and an organizer's API token; schemathesis then checks that no
answer is a server error, that answers match the documented schemas, and that a method the
route does not offer answers 405 with an `Allow` header. The exit status is schemathesis's.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHECKS = (
    "not_a_server_error,response_schema_conformance,status_code_conformance,"
    "content_type_conformance,unsupported_method,allow_header_conformance"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=25)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument(
        "--max-time",
        type=int,
        default=150,
        help="seconds; schemathesis stops fuzzing when they are spent",
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="wn-fuzz-"))
    os.environ.setdefault("WATCHNET_INSTANCE_PATH", str(tmp))
    url = os.environ.get("WATCHNET_TEST_DATABASE_URL") or f"sqlite:///{tmp / 'fuzz.sqlite3'}"

    import sqlalchemy as sa
    from werkzeug.serving import make_server

    from watchnet import create_app
    from watchnet.auth.services import issue_api_token
    from watchnet.core.config import normalise_database_url
    from watchnet.core.extensions import db
    from watchnet.districts.models import District, Landmark
    from watchnet.drills.models import Drill
    from watchnet.people.models import StaffRole, StaffUser
    from watchnet.people.services import register_supporter

    app = create_app(
        {
            "TESTING": False,
            "SQLALCHEMY_DATABASE_URI": normalise_database_url(url),
            "SECRET_KEY": "api-fuzz",
            "SERVER_NAME": None,
        }
    )
    with app.app_context():
        db.drop_all()
        db.session.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        db.create_all()
        district = District(
            name="八幡地区", name_kana="やわたちく", center_lat=36.3335, center_lon=138.9455
        )
        db.session.add(district)
        db.session.flush()
        staff = StaffUser(
            email="fuzz@example.jp",
            name="検査 太郎",
            role=StaffRole.organizer,
            districts=[district],
        )
        staff.set_password("correct horse battery")
        db.session.add_all(
            [
                staff,
                Landmark(district_id=district.id, name="八幡公民館", lat=36.3338, lon=138.946),
                Drill(
                    district_id=district.id,
                    title="八幡まち歩き訓練",
                    starts_at=datetime.now(UTC) + timedelta(days=7),
                ),
            ]
        )
        register_supporter(
            district,
            "見守 花子",
            "みまもり はなこ",
            "community_supporter",
            email="hanako@example.jp",
        )
        _token, raw = issue_api_token(staff, "schemathesis")
        db.session.commit()

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = make_server("127.0.0.1", 0, app, threaded=True)
    port = server.socket.getsockname()[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    cli = Path(sys.executable).with_name("schemathesis")
    command = [
        str(cli),
        "run",
        f"http://127.0.0.1:{port}/api/openapi.json",
        "--checks",
        CHECKS,
        "-H",
        f"Authorization: Bearer {raw}",
        "--max-examples",
        str(args.max_examples),
        "--seed",
        str(args.seed),
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--max-time",
        str(args.max_time),
        "--no-color",
    ]
    try:
        # Run in the temporary folder: schemathesis keeps a cache in its working directory.
        return subprocess.run(command, check=False, cwd=tmp).returncode
    finally:
        server.shutdown()
        thread.join(5)


if __name__ == "__main__":
    sys.exit(main())
