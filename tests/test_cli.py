"""The watchnet command as a new user runs it: demo twice, serve with workers, create-user."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support import free_port

WATCHNET = [sys.executable, "-m", "watchnet.cli"]


def _env(instance: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["WATCHNET_INSTANCE_PATH"] = str(instance)
    # One round of PBKDF2 instead of scrypt, as in tests/conftest.py: not what these measure.
    env["WATCHNET_PASSWORD_HASH_METHOD"] = "pbkdf2:sha256:1"
    return env


@pytest.fixture(scope="module")
def demo_instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An instance folder after `watchnet demo --no-serve`, made once for the module: the
    tests that need the demo's data copy it (test_demo_... runs the demo itself)."""
    instance = tmp_path_factory.mktemp("demo-instance")
    subprocess.run(
        [*WATCHNET, "demo", "--no-serve"],
        env=_env(instance),
        check=True,
        capture_output=True,
        timeout=60,
    )
    return instance


def _copy_instance(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target, dirs_exist_ok=True)
    return target


def _wait_for(url: str, timeout_s: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.loads(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _children(pid: int) -> dict[int, str]:
    """The watchnet sub-command each child process of pid runs."""
    found = {}
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        if b"watchnet" in argv:
            found[int(child)] = argv[argv.index(b"watchnet") + 1].decode()
    return found


def _counts(db_file: Path) -> dict[str, int]:
    con = sqlite3.connect(db_file)
    try:
        tables = [
            "district",
            "landmark",
            "staff_user",
            "supporter",
            "drill",
            "route_point",
            "checkpoint",
            "team",
            "participant",
            "address_point",
            "address_import",
        ]
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    finally:
        con.close()


def test_demo_serves_the_yawata_drill_and_a_second_run_duplicates_nothing(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [*WATCHNET, "demo", "--port", str(port)],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        health = _wait_for(f"http://127.0.0.1:{port}/healthz")
        assert health["database"] == {"state": "ok", "dialect": "sqlite"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as response:
            assert "watchnet" in response.read().decode()
        # The demo delivers too: a dispatcher and a scheduler, each its own process.
        helpers = _children(proc.pid)
        assert sorted(helpers.values()) == ["dispatcher", "scheduler"], helpers
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}/" in output
    assert f"into {tmp_path / 'demo-mail'}" in output
    assert f"into {tmp_path / 'outbox'}/sms" in output  # SMS and calls without a gateway

    def alive() -> list[int]:
        return [
            pid
            for pid in helpers
            if Path(f"/proc/{pid}").exists()
            and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
        ]

    # The demo stops its helpers as it ends; they may take a moment to be gone.
    deadline = time.monotonic() + 5
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(), "the demo's helpers outlived it"
    assert "organizer@yawata.example.jp" in output and "coordinator@yawata.example.jp" in output

    db_file = tmp_path / "watchnet.sqlite3"
    first = _counts(db_file)
    # The planned Yawata drill, plus two ended ones for the reflection pages: 3 checkpoints each.
    assert first["district"] == 2 and first["drill"] == 3
    assert first["checkpoint"] == 9 and first["team"] == 6
    assert first["supporter"] >= 12
    # Fifty hand-made address points, so 「いまどこ？」 names an address offline.
    assert first["address_point"] == 50 and first["address_import"] == 1
    con = sqlite3.connect(db_file)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    kinds = {k for (k,) in con.execute("SELECT DISTINCT kind FROM supporter")}
    con.close()
    assert {
        "community_supporter",
        "care_prevention_supporter",
        "dementia_supporter",
        "care_manager",
    } <= kinds

    again = subprocess.run(
        [*WATCHNET, "demo", "--no-serve"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr
    assert "nothing duplicated" in again.stdout
    assert _counts(db_file) == first


def _signin_token(env: dict[str, str]) -> str:
    code = (
        "import sqlalchemy as sa\nfrom watchnet import create_app\n"
        "from watchnet.core.extensions import db\nfrom watchnet.people.models import Supporter\n"
        "from watchnet.auth.services import make_signin_token\napp = create_app()\n"
        "with app.app_context():\n"
        "    print(make_signin_token(db.session.scalar(sa.select(Supporter))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip().splitlines()[-1]


def test_serve_runs_several_gunicorn_workers_that_keep_users_apart(tmp_path, demo_instance):
    env = _env(_copy_instance(demo_instance, tmp_path))
    token = _signin_token(env)
    port = free_port()
    proc = subprocess.Popen(
        [*WATCHNET, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert _wait_for(f"{base}/healthz")["status"] == "ok"
        phone = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        for _ in range(4):  # reach both workers
            assert phone.open(f"{base}/s/{token}", timeout=5).status == 200
        # A request without the phone's cookie must not be taken for that supporter, in any
        # worker: each request gets its own `g`.
        for _ in range(8):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(f"{base}/me", timeout=5)
            assert refused.value.code == 403
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=20)
    assert output.count("Booting worker") == 2


def test_create_user_makes_a_staff_login_and_refuses_a_duplicate(tmp_path, demo_instance):
    env = _env(_copy_instance(demo_instance, tmp_path))
    args = [
        *WATCHNET,
        "create-user",
        "--email",
        "sc@example.jp",
        "--name",
        "SC",
        "--role",
        "coordinator",
        "--district",
        "八幡地区",
        "--password",
        "long-enough-pw",
    ]
    made = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert "created coordinator sc@example.jp" in made.stdout
    again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 2
    assert "exists already" in again.stderr
