"""Benchmark: does the login answer tell whether an address has an account?

Median time of a failed login through the real form (Flask test client, SQLite in a temporary
folder), for an unknown address and for a known address with a wrong password, 20 tries each,
interleaved so that machine noise falls on both alike. Before issue 9 the unknown address
skipped the password hash (8 ms against 246 ms); now both hash (ratio near 1).

    .venv/bin/python bench/login_timing.py [label] [--tries N]

Not part of the test suite (tests/test_security_headers.py checks the same loosely).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("label", nargs="?", default="")
    parser.add_argument("--tries", type=int, default=20)
    args = parser.parse_args()
    os.environ["WATCHNET_INSTANCE_PATH"] = tempfile.mkdtemp()

    from watchnet import create_app
    from watchnet.core.extensions import db
    from watchnet.people.models import StaffRole, StaffUser

    folder = tempfile.mkdtemp()
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/t.db",
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
            "LOGIN_MAX_FAILURES": 10**6,
            "LOGIN_MAX_FAILURES_PER_IP": 10**6,
        }
    )
    with app.app_context():
        db.create_all()
        user = StaffUser(email="known@example.jp", name="k", role=StaffRole("organizer"))
        user.set_password("the right password")
        db.session.add(user)
        db.session.commit()
    client = app.test_client()

    def timed(email: str) -> float:
        start = time.perf_counter()
        response = client.post("/login", data={"email": email, "password": "wrong password"})
        assert response.status_code == 401, response.status_code
        return (time.perf_counter() - start) * 1000

    for _ in range(3):
        timed("known@example.jp")
        timed("nobody@example.jp")
    unknown, known = [], []
    for i in range(args.tries):
        unknown.append(timed(f"nobody{i}@example.jp"))
        known.append(timed("known@example.jp"))
    mu, mk = statistics.median(unknown), statistics.median(known)
    print(
        f"{args.label}: unknown median {mu:.1f} ms, known-wrong median {mk:.1f} ms, "
        f"ratio {mu / mk:.2f}"
    )


if __name__ == "__main__":
    main()
