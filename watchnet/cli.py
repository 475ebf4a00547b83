"""The `watchnet` command: demo, serve, create-user, db (Alembic), and Flask's own commands."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import FlaskGroup, ScriptInfo, with_appcontext
from flask_babel import force_locale

from watchnet import create_app
from watchnet.core.extensions import db


def _create_app() -> object:
    return create_app()


@click.group(
    cls=FlaskGroup,
    create_app=_create_app,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
)
def main() -> None:
    """watchnet: walking drills and missing-elder alerts."""


def upgrade_database() -> None:
    """Apply every Alembic migration to the configured database."""
    from flask_migrate import upgrade

    upgrade()


@main.command("serve", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=max(2, (os.cpu_count() or 1) * 2), show_default=True, type=int)
@click.option(
    "--threads",
    default=1,
    show_default=True,
    type=int,
    help="Threads per worker; 1 gives sync workers. Live pages reconnect their "
    "event streams instead of holding a worker (FIELD_SSE_LIFETIME_S, "
    "LIVE_STREAM_MAX_S = 0); set those above 0 only with threads.",
)
@click.option(
    "--upgrade/--no-upgrade",
    default=True,
    show_default=True,
    help="Apply database migrations before serving.",
)
@click.option("--access-log/--no-access-log", default=True, show_default=True)
@click.option(
    "--worker-class",
    type=click.Choice(["sync", "gthread"]),
    default=None,
    help="Default: gthread when --threads > 1, else sync.",
)
@click.pass_obj
def serve_command(
    info: ScriptInfo,
    host: str,
    port: int,
    workers: int,
    threads: int,
    upgrade: bool,
    access_log: bool,
    worker_class: str | None,
) -> None:
    """Serve in production with gunicorn and several worker processes."""
    from watchnet.server import run_gunicorn

    # No app context may be active while serving: forked workers would inherit it and every
    # request would share its `g` (and with it the logged-in user).
    app = info.load_app()
    if upgrade:
        with app.app_context():
            upgrade_database()
    click.echo(f"watchnet serving on http://{host}:{port}/ with {workers} workers")
    run_gunicorn(
        app, f"{host}:{port}", workers, threads, worker_class=worker_class, access_log=access_log
    )


@main.command("demo", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option(
    "--threads",
    default=1,
    show_default=True,
    type=int,
    help="Threads per worker; 1 gives sync workers.",
)
@click.option("--no-serve", is_flag=True, help="Load the demo data and exit.")
@click.pass_obj
def demo_command(
    info: ScriptInfo, host: str, port: int, workers: int, threads: int, no_serve: bool
) -> None:
    """Create the database, load the Yawata demo district and serve it."""
    from watchnet.demo import DEMO_LOGINS, load_demo_data
    from watchnet.reflection.demo_data import load_demo_reflection
    from watchnet.registry.demo_data import load_demo_registry
    from watchnet.server import run_gunicorn

    app = info.load_app()
    with app.app_context():
        upgrade_database()
        created = load_demo_data()
        # Two ended drills before the planned one, so reflection pages have data to show.
        created = load_demo_reflection() or created
        created = load_demo_registry() or created
        db.session.commit()
        database = db.engine.url.render_as_string(hide_password=True)
    url = f"http://{host}:{port}/"
    click.echo("")
    click.echo("watchnet demo " + ("loaded" if created else "already loaded; nothing duplicated"))
    click.echo(f"  database: {database}")
    click.echo(f"  open:     {url}")
    for role, (email, password) in DEMO_LOGINS.items():
        click.echo(f"  {role:<12} {email}  /  {password}")
    click.echo("  supporters sign in with their personal link (see Supporters → a supporter)")
    if no_serve:
        click.echo("")
        return
    from watchnet.core.config import twilio_configured

    helpers = start_demo_helpers(
        app.instance_path,
        phone_gateway=twilio_configured(app.config),
        line_account=bool(app.config.get("LINE_CHANNEL_ACCESS_TOKEN")),
    )
    click.echo("")
    try:
        run_gunicorn(app, f"{host}:{port}", workers, threads, access_log=False)
    finally:
        stop_demo_helpers(helpers)


def start_demo_helpers(
    instance_path: str, phone_gateway: bool = False, line_account: bool = False
) -> list[subprocess.Popen[bytes]]:
    """The dispatcher and the scheduler, each its own process as in production, so that the
    demo's alerts, reminders and help calls are delivered. Without SMTP settings the e-mail
    goes into a Maildir in the instance folder (readable with any mail program); without a LINE
    account or an SMS/voice gateway, LINE messages, SMS and calls go into files in its outbox
    folder."""
    env = dict(os.environ)
    if not env.get("WATCHNET_SMTP_HOST") and not env.get("WATCHNET_MAIL_MAILDIR"):
        env["WATCHNET_MAIL_MAILDIR"] = "demo-mail"
    if env.get("WATCHNET_MAIL_MAILDIR"):
        click.echo(
            f"  e-mail:   into {os.path.join(instance_path, env['WATCHNET_MAIL_MAILDIR'])}"
            " (Maildir; no SMTP server is used)"
        )
    outbox = os.path.join(instance_path, "outbox")
    if not line_account:
        click.echo(f"  LINE:     into {outbox}/line (JSON); no LINE account is used")
    if not phone_gateway:
        click.echo(
            f"  SMS/calls: into {outbox}/sms (text) and {outbox}/voice (TwiML); no gateway is used"
        )
    helpers = [
        subprocess.Popen([sys.executable, "-m", "watchnet", name], env=env)
        for name in ("dispatcher", "scheduler")
    ]
    click.echo("  running:  watchnet dispatcher and watchnet scheduler, stopped with the demo")
    return helpers


def stop_demo_helpers(helpers: list[subprocess.Popen[bytes]]) -> None:
    for helper in helpers:
        if helper.poll() is None:
            helper.terminate()
    for helper in helpers:
        try:
            helper.wait(timeout=10)
        except subprocess.TimeoutExpired:
            helper.kill()


@main.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["admin", "coordinator", "organizer"]), required=True)
@click.option("--district", "districts", multiple=True, help="District name (repeatable).")
@click.password_option()
@with_appcontext
def create_user_command(
    email: str, name: str, role: str, districts: tuple[str, ...], password: str
) -> None:
    """Create a staff account."""
    from watchnet.core.errors import UserInputError
    from watchnet.people.services import create_staff_user

    try:
        user = create_staff_user(
            email=email, name=name, role=role, password=password, district_names=list(districts)
        )
    except UserInputError as exc:
        db.session.rollback()
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    db.session.commit()
    click.echo(f"created {user.role} {user.email} (id {user.id})")


@main.command("dispatcher")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option(
    "--interval",
    default=0.25,
    show_default=True,
    type=float,
    help="Seconds to wait when nothing is due (an alert's first message waits at most this long).",
)
@click.option(
    "--batch", default=100, show_default=True, type=int, help="Messages claimed at a time."
)
@click.option(
    "--threads",
    default=8,
    show_default=True,
    type=int,
    help="Messages sent at once (each thread keeps its own connections open).",
)
@with_appcontext
def dispatcher_command(once: bool, interval: float, batch: int, threads: int) -> None:
    """Deliver queued notifications (e-mail, webhooks, chat). Several may run at once."""
    import logging
    import signal

    from watchnet.jobs.deliveries import Dispatcher
    from watchnet.jobs.workers import Outage, reset_connections

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("apprise").setLevel(logging.WARNING)  # not a line per message sent
    try:
        dispatcher = Dispatcher(threads=threads, batch=batch, heartbeat=True)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)

    def stop(_signum: int, _frame: object) -> None:
        # Finish and record the batch in hand (sends not yet started are released), then
        # leave: nothing is half-recorded. During an outage the backoff wait ends at once.
        dispatcher.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(
        f"dispatcher started (pid {os.getpid()}, {threads} threads, lease {dispatcher.lease_s:g} s)"
    )
    outage = Outage("dispatcher")
    try:
        while not dispatcher.stopping:
            try:
                dispatcher.beat()
                handled = dispatcher.run_once()
            except sa.exc.SQLAlchemyError as exc:
                # Never exit or hang on a database error: log it once, reconnect with backoff.
                reset_connections()
                dispatcher.wait(outage.failed(exc))
                continue
            outage.recovered()
            if once and handled == 0:
                break
            if handled == 0:
                dispatcher.wait(interval)
    finally:
        dispatcher.close()
        reset_connections()
    click.echo("dispatcher stopped")


@main.command("scheduler")
@click.option("--once", is_flag=True, help="Run each job once, then exit.")
@click.option(
    "--wait",
    "wait_for_lease",
    is_flag=True,
    help="Wait for the lease while another scheduler holds it, instead of refusing to start.",
)
@with_appcontext
def scheduler_command(once: bool, wait_for_lease: bool) -> None:
    """Start and end scheduled drills and send reminders. Only one runs at a time."""
    import logging
    import signal
    import threading

    from watchnet.scheduler import (
        EXIT_LOST_LEASE,
        SchedulerLeaseHolder,
        SchedulerLockError,
        build_scheduler,
        run_once,
    )

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    lease = SchedulerLeaseHolder(app)
    stopping = threading.Event()
    scheduler: Any = None

    def stop(_signum: int, _frame: object) -> None:
        stopping.set()
        if scheduler is not None:
            _shutdown(scheduler)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        lease.acquire(wait=wait_for_lease, stop=stopping)
    except SchedulerLockError as exc:
        if stopping.is_set():
            sys.exit(0)
        click.echo(
            f"error: another scheduler is already running (lock held: {exc}); "
            "not starting a second one",
            err=True,
        )
        sys.exit(3)
    except sa.exc.SQLAlchemyError as exc:
        click.echo(f"error: the database did not answer: {exc}", err=True)
        sys.exit(2)
    try:
        if once:
            for name, done in run_once(app, lease).items():
                click.echo(f"{name}: {done}")
        else:
            scheduler = build_scheduler(app, lease)
            lease.keep(on_lost=lambda: _shutdown(scheduler))
            click.echo(f"scheduler started (pid {os.getpid()}, {lease.description})")
            if not stopping.is_set():
                scheduler.start()
            # A job still running finishes before the lease is given back.
            _wait_for_executor(scheduler)
    finally:
        lease.release()
        db.session.remove()
    if lease.lost.is_set():
        click.echo(
            "error: this scheduler lost its lease; exiting so that a supervisor restarts it",
            err=True,
        )
        sys.exit(EXIT_LOST_LEASE)


def _shutdown(scheduler: Any) -> None:
    from apscheduler.schedulers import SchedulerNotRunningError

    with contextlib.suppress(SchedulerNotRunningError):
        scheduler.shutdown(wait=False)


def _wait_for_executor(scheduler: Any) -> None:
    # shutdown(wait=False) from a signal or the lease thread leaves a running job going.
    for executor in scheduler._executors.values():
        pool = getattr(executor, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=True)


@main.group("addresses")
def addresses_group() -> None:
    """Address points for "where am I" (MLIT 街区レベル位置参照情報)."""


def _district_option(district_id: int | None) -> Any:
    from watchnet.districts.models import District

    if district_id is None:
        return None
    district = db.session.get(District, district_id)
    if district is None:
        click.echo(f"error: there is no district with id {district_id}", err=True)
        sys.exit(2)
    return district


@addresses_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--district", "district_id", type=int, help="Record the points as this district's.")
@click.option("--city", default="", help="Import only this city's rows, e.g. 高崎市.")
@with_appcontext
def addresses_import_command(file: Path, district_id: int | None, city: str) -> None:
    """Import an address file (CSV in CP932 or UTF-8, or MLIT's ZIP); again adds nothing."""
    from watchnet.districts.addresses import BAD_REASONS, AddressFileError, import_address_file

    district = _district_option(district_id)
    started = time.monotonic()
    with force_locale("en"):  # the command speaks English, as the others do
        try:
            report = import_address_file(
                file, district=district, city=city.strip(), commit=db.session.commit
            )
        except (AddressFileError, OSError, zipfile.BadZipFile) as exc:
            db.session.rollback()
            click.echo(f"error: {file}: {exc}", err=True)
            sys.exit(2)
        db.session.commit()
        click.echo(
            f"{report.file_name} ({report.encoding}): {report.rows_read} rows read, "
            f"{report.added} address points added, {report.existing} already there, "
            f"{report.other_city} of other cities left out, {report.bad} bad rows, "
            f"in {time.monotonic() - started:.1f} s"
        )
        for line, reason in report.bad_lines:
            click.echo(f"  line {line}: {BAD_REASONS[reason]}")


@addresses_group.command("clear")
@click.option("--city", default="", help="Only this city's points, e.g. 高崎市.")
@click.option("--district", "district_id", type=int, help="Only the points recorded for it.")
@click.confirmation_option(prompt="Delete these address points?")
@with_appcontext
def addresses_clear_command(city: str, district_id: int | None) -> None:
    """Delete address points, e.g. before importing a newer year's file."""
    from watchnet.districts.addresses import clear_address_points

    removed = clear_address_points(city=city, district=_district_option(district_id))
    db.session.commit()
    click.echo(f"{removed} address points deleted")


@main.command("check-db")
@with_appcontext
def check_db_command() -> None:
    """Print whether the database answers."""
    db.session.execute(sa.text("SELECT 1"))
    click.echo(f"ok: {db.engine.dialect.name}")


if __name__ == "__main__":
    main()
