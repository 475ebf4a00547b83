"""E-mail: plain SMTP (STARTTLS, login) with a session kept per sending thread, or a Maildir
folder that takes the messages instead (the demo; a mail system that picks up files)."""

from __future__ import annotations

import contextlib
import mailbox
import os
import smtplib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from watchnet.notifications.models import DeliveryChannel
from watchnet.notifications.transports.base import (
    DELIVERY_HEADER,
    Message,
    TransportError,
    register_transport,
)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    starttls: bool
    sender: str
    timeout_s: float = 10.0
    # A Maildir folder that takes the e-mail instead of an SMTP server (the demo; a mail
    # system that picks up files). Empty: SMTP.
    maildir: str = ""


@dataclass
class _SmtpSession:
    smtp: smtplib.SMTP
    sent: int = 0
    last_used: float = field(default_factory=time.monotonic)


class EmailTransport:
    """Plain SMTP (with optional STARTTLS and login). 5xx answers are permanent.

    Each sending thread keeps its own SMTP session open across messages (one connection and
    EHLO/login per up to MAX_PER_SESSION messages instead of per message)."""

    MAX_PER_SESSION = 100  # some relays refuse more messages per session
    IDLE_CHECK_S = 5.0  # a session idle this long is checked with NOOP before it is reused

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[smtplib.SMTP] = set()

    def build_message(self, delivery: Message) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.settings.sender
        msg["To"] = delivery.address
        msg["Subject"] = delivery.subject
        msg["Date"] = formatdate(localtime=False)
        # A stable Message-ID lets mail systems (and our tests) spot a repeated delivery.
        msg["Message-ID"] = f"<delivery-{delivery.id}@watchnet>"
        msg[DELIVERY_HEADER] = delivery.dedupe_key
        msg.set_content(delivery.body)
        return msg

    def _file(self, delivery: Message) -> None:
        """Put the message into the Maildir (each message its own file, written through tmp/
        and renamed as Maildir prescribes, so several dispatchers may share the folder)."""
        try:
            mailbox.Maildir(self.settings.maildir, create=True).add(self.build_message(delivery))
        except OSError as exc:
            raise TransportError(f"maildir {self.settings.maildir}: {exc}"[:500]) from exc

    def _connect(self) -> _SmtpSession:
        s = self.settings
        smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
        try:
            if s.starttls:
                smtp.starttls()
            if s.username:
                smtp.login(s.username, s.password or "")
        except BaseException:
            smtp.close()
            raise
        with self._lock:
            self._open.add(smtp)
        return _SmtpSession(smtp)

    def _drop(self, session: _SmtpSession | None) -> None:
        self._local.session = None
        if session is None:
            return
        with self._lock:
            self._open.discard(session.smtp)
        with contextlib.suppress(OSError):
            session.smtp.close()

    def _session(self) -> _SmtpSession:
        session: _SmtpSession | None = getattr(self._local, "session", None)
        if session is not None and session.sent >= self.MAX_PER_SESSION:
            self._quit(session)
            session = None
        if session is not None and time.monotonic() - session.last_used > self.IDLE_CHECK_S:
            # The server may have closed an idle session; find out before handing it a message.
            try:
                if session.smtp.noop()[0] != 250:
                    raise smtplib.SMTPServerDisconnected("NOOP refused")
            except (smtplib.SMTPException, OSError):
                self._drop(session)
                session = None
        if session is None:
            session = self._connect()
            self._local.session = session
        return session

    def _quit(self, session: _SmtpSession) -> None:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            session.smtp.quit()
        self._drop(session)

    def send(self, delivery: Message) -> str | None:
        if self.settings.maildir:
            self._file(delivery)
            return None
        session = None
        try:
            session = self._session()
            session.smtp.send_message(self.build_message(delivery))
            session.sent += 1
            session.last_used = time.monotonic()
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise TransportError(
                f"recipient refused: {exc.recipients}", permanent=all(500 <= c < 600 for c in codes)
            ) from exc
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            # smtplib has reset the transaction; the session stays usable.
            raise TransportError(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=500 <= exc.smtp_code < 600
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            self._drop(session)
            raise TransportError(f"SMTP login refused ({exc.smtp_code})") from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self._drop(session)
            raise TransportError(f"SMTP unreachable: {exc}") from exc
        return None

    def close(self) -> None:
        with self._lock:
            sessions, self._open = list(self._open), set()
        for smtp in sessions:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


def smtp_settings(config: Mapping[str, Any]) -> SmtpSettings:
    """SMTP settings from the app config (MAIL_MAILDIR relative to the instance folder)."""
    folder = str(config.get("MAIL_MAILDIR") or "")
    if folder:
        folder = os.path.join(str(config.get("INSTANCE_PATH") or ""), folder)
    return SmtpSettings(
        host=config["SMTP_HOST"],
        port=int(config["SMTP_PORT"]),
        username=config.get("SMTP_USERNAME"),
        password=config.get("SMTP_PASSWORD"),
        starttls=bool(config.get("SMTP_STARTTLS")),
        sender=config["MAIL_FROM"],
        timeout_s=float(config["SMTP_TIMEOUT_S"]),
        maildir=folder,
    )


register_transport(DeliveryChannel.email, lambda config: EmailTransport(smtp_settings(config)))
