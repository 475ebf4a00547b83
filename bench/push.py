"""Benchmark: 10,000 webhook deliveries and 10,000 Web Push deliveries, in one run.

The outbox gets 10,000 webhook rows (json:// to a receiver in its own process), then 10,000
push rows (one browser subscription each, on a push-service stand-in in its own process:
tests/notifications/push_support.py). Two `watchnet dispatcher` processes deliver them: for
push that includes, per message, the aes128gcm encryption for the subscription's keys (RFC
8291: a fresh P-256 key and ECDH each time) and the VAPID header (signed once per push service
and reused). The stand-in checks every request as a push service does (VAPID signature once
per token, then aud/exp/sub; TTL; the aes128gcm header) and decrypts every Nth message with
the subscription's private key (--decrypt-every) to show that what arrives is readable.

Timed from the commit that put the rows in the outbox to the last delivery the receiver took
(each counts distinct deliveries: webhooks by X-Watchnet-Delivery, push by Topic). Prints both
times and the ratio push / webhook. Goal: 10,000 pushes in under 30 s.

    .venv/bin/python bench/push.py                         # SQLite
    .venv/bin/python bench/push.py --db postgresql --rounds 2

PostgreSQL: a server reachable as postgresql://postgres@127.0.0.1:5432/ (a database
`watchnet_bench_push` is recreated). Only 127.0.0.1 is ever contacted. Not part of the test
suite; CPU is shared, so compare the ratio and look at the load printed with it.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

from alerts import SINK, free_port, load, outbox_state, sink_stats, stop
from benchdb import prepare_database

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "watchnet_bench_push"
STAND_IN = ROOT / "tests" / "notifications" / "push_support.py"
SEED = "bench-push"

SETUP = textwrap.dedent("""
    # Runs inside the app: the schema, and the VAPID public key the stand-in must expect.
    import json
    from watchnet import create_app
    app = create_app()
    with app.app_context():
        from flask_migrate import upgrade
        upgrade()
        print(json.dumps({"vapid_public_key": app.config["VAPID_PUBLIC_KEY"]}))
""")

ENQUEUE = textwrap.dedent("""
    # Runs inside the app: N outbox rows of one channel in one transaction; prints the wall
    # time of the commit (everything is due from then on).
    import json, sys, time
    from watchnet import create_app
    from watchnet.core.extensions import db
    from watchnet.notifications.services import enqueue_deliveries

    channel, n, target, round_no = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    app = create_app()
    with app.app_context():
        common = {"subject": "【訓練】行方不明の方の捜索にご協力ください",
                  "summary": "【訓練】捜索のお願い", "topic": "alert", "topic_id": 1,
                  "answer_topic": "alert:1",
                  "body": "（ベンチ）サポーターの皆さまへ。詳細はリンクから。"}
        rows = []
        if channel == "webhook":
            for i in range(n):
                rows.append({**common, "dedupe_key": f"bench:{round_no}:webhook:{i}",
                             "channel": "webhook", "channel_ref": f"addr:{i}",
                             "address": f"json://{target}/hook/{i}",
                             "link": f"http://127.0.0.1/a/bench-{i}?via=webhook"})
        else:
            from tests.notifications.push_support import derived_subscription
            origin, seed = target.split(" ")
            for i in range(n):
                sub = derived_subscription(origin, seed, i)
                rows.append({**common, "dedupe_key": f"bench:{round_no}:push:{i}",
                             "channel": "push", "channel_ref": f"push:{i}",
                             "address": sub.address,
                             "link": f"http://127.0.0.1/a/bench-{i}?via=push"})
        enqueue_deliveries(rows)
        db.session.commit()
        print(json.dumps({"committed_at": time.time()}))
""")


def run_in_app(code: str, env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def stats(port: int) -> dict[str, Any]:
    if port < 0:  # the push stand-in answers its stats on any GET
        with urllib.request.urlopen(f"http://127.0.0.1:{-port}/", timeout=10) as response:
            return dict(json.loads(response.read()))
    return sink_stats(port)


def wait_all(port: int, expected: int, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    current = stats(port)
    while current["unique"] < expected and time.monotonic() < deadline:
        time.sleep(0.1)
        current = stats(port)
    return current


def bench_one(db: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    from cryptography.hazmat.primitives.asymmetric import ec

    instance = Path(tempfile.mkdtemp(prefix=f"wn-bench-push-{db}-"))
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    vapid_key = ec.generate_private_key(ec.SECP256R1())
    raw = vapid_key.private_numbers().private_value.to_bytes(32, "big")
    env.update(
        WATCHNET_INSTANCE_PATH=str(instance),
        NO_PROXY="127.0.0.1",
        PYTHONPATH=str(ROOT),
        WATCHNET_VAPID_PRIVATE_KEY=base64.urlsafe_b64encode(raw).rstrip(b"=").decode(),
        WATCHNET_VAPID_SUBJECT="mailto:bench@city.example.jp",
    )
    prepare_database(db, env, BENCH_DB)
    setup = run_in_app(SETUP, env)

    sink_port, push_port = free_port(), free_port()
    processes: list[subprocess.Popen[Any]] = []
    results = []
    try:
        sink = subprocess.Popen(
            [sys.executable, "-c", SINK, str(sink_port)],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        processes.append(sink)
        push = subprocess.Popen(
            [
                sys.executable,
                str(STAND_IN),
                "--port",
                str(push_port),
                "--seed",
                SEED,
                "--decrypt-every",
                str(args.decrypt_every),
                "--application-server-key",
                setup["vapid_public_key"],
            ],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        processes.append(push)
        for process in (sink, push):
            assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        for _ in range(args.dispatchers):
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "watchnet.cli",
                        "dispatcher",
                        "--threads",
                        str(args.threads),
                        "--batch",
                        str(args.batch),
                        "--interval",
                        str(args.interval),
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                )
            )
        time.sleep(2.0)  # let the dispatchers start and reach their idle poll
        n = args.deliveries
        for round_no in range(1, args.rounds + 1):
            result: dict[str, Any] = {"round": round_no}
            for channel, target, port in (
                ("webhook", f"127.0.0.1:{sink_port}", sink_port),
                ("push", f"http://127.0.0.1:{push_port} {SEED}", -push_port),
            ):
                before = stats(port)
                committed = run_in_app(ENQUEUE, env, channel, str(n), target, str(round_no))
                after = wait_all(port, before["unique"] + n, args.timeout)
                result[channel] = {
                    "load": load(),
                    "unique": after["unique"] - before["unique"],
                    "raw": after["raw"] - before["raw"],
                    "first_s": stats_first(after, before, committed["committed_at"]),
                    "last_s": (after["last"] or 0) - committed["committed_at"],
                    "refused": after.get("refused", 0) - before.get("refused", 0),
                    "refusals": after.get("refusals", []),
                    "decrypted": after.get("decrypted", 0) - before.get("decrypted", 0),
                }
                time.sleep(0.5)  # anything repeated would arrive now
            results.append(result)
        outbox = outbox_state(env)
        results[-1]["outbox"] = outbox
    finally:
        for process in reversed(processes):
            stop(process)
    return results


def stats_first(after: dict[str, Any], before: dict[str, Any], committed_at: float) -> float | None:
    """The first arrival of this phase. The receivers keep the first arrival of all time, so
    from the second phase on the time is only known when the receiver was empty before."""
    if before["unique"] == 0 and after["first"]:
        return float(after["first"]) - committed_at
    return None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--deliveries", type=int, default=10_000, help="per channel")
    parser.add_argument("--rounds", type=int, default=1, help="webhook + push pairs")
    parser.add_argument("--dispatchers", type=int, default=2, help="dispatcher processes")
    parser.add_argument("--threads", type=int, default=8, help="sending threads each")
    parser.add_argument("--batch", type=int, default=100, help="messages claimed at a time")
    parser.add_argument("--interval", type=float, default=0.25, help="dispatcher's idle poll (s)")
    parser.add_argument(
        "--decrypt-every", type=int, default=100, help="the stand-in decrypts every Nth push"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="give up waiting (s)")
    args = parser.parse_args()
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    print(
        f"{args.deliveries:,} webhook then {args.deliveries:,} push deliveries per round; "
        f"{args.dispatchers} dispatcher(s) × {args.threads} threads, batch {args.batch}"
    )
    print(f"before: {load()}")
    for db in dbs:
        for r in bench_one(db, args):
            print(f"\n[{db}, round {r['round']}]")
            for channel in ("webhook", "push"):
                c = r[channel]
                rate = c["unique"] / max(c["last_s"], 1e-9)
                first = f"first {c['first_s']:.2f} s, " if c["first_s"] is not None else ""
                print(
                    f"  {channel:8s} {first}last {c['last_s']:6.2f} s  (~{rate:,.0f}/s)  "
                    f"received {c['unique']:,} distinct, {c['raw'] - c['unique']} repeated"
                    + (f", {c['refused']} refused {c['refusals']}" if c["refused"] else "")
                    + (f", {c['decrypted']} decrypted and read" if channel == "push" else "")
                    + f"  ({c['load']})"
                )
            push_s, hook_s = r["push"]["last_s"], r["webhook"]["last_s"]
            complete = r["push"]["unique"] == args.deliveries
            print(
                f"  ratio push / webhook {push_s / hook_s:.2f}   goal: {args.deliveries:,} "
                f"pushes < 30 s: {'met' if complete and push_s < 30 else 'MISSED'}"
            )
            if "outbox" in r:
                print(f"  outbox {r['outbox']}")


if __name__ == "__main__":
    main()
