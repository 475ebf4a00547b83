"""One transport per channel kind. A transport only sends and classifies failures;
retries, backoff and recording live once, in watchnet.jobs.deliveries."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

import apprise

from watchnet.notifications.models import Delivery, DeliveryChannel


class TransportError(Exception):
    """Sending failed; `permanent` means retrying cannot help (bad address, refused)."""

    def __init__(self, reason: str, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Transport(Protocol):
    def send(self, delivery: Delivery) -> None: ...


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    starttls: bool
    sender: str
    timeout_s: float = 10.0


class EmailTransport:
    """Plain SMTP (with optional STARTTLS and login). 5xx answers are permanent."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def build_message(self, delivery: Delivery) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.settings.sender
        msg["To"] = delivery.address
        msg["Subject"] = delivery.subject
        msg["Date"] = formatdate(localtime=False)
        # A stable Message-ID lets mail systems (and our tests) spot a repeated delivery.
        msg["Message-ID"] = f"<delivery-{delivery.id}@watchnet>"
        msg["X-Watchnet-Delivery"] = delivery.dedupe_key
        msg.set_content(delivery.body)
        return msg

    def send(self, delivery: Delivery) -> None:
        s = self.settings
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout_s) as smtp:
                if s.starttls:
                    smtp.starttls()
                if s.username:
                    smtp.login(s.username, s.password or "")
                smtp.send_message(self.build_message(delivery))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise TransportError(f"recipient refused: {exc.recipients}",
                                 permanent=all(500 <= c < 600 for c in codes)) from exc
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise TransportError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                                 permanent=500 <= exc.smtp_code < 600) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise TransportError(f"SMTP login refused ({exc.smtp_code})") from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise TransportError(f"SMTP unreachable: {exc}") from exc


class AppriseTransport:
    """Webhooks and chat services through apprise URLs (json://, slack://, discord:// ...)."""

    def send(self, delivery: Delivery) -> None:
        notifier = apprise.Apprise()
        if not notifier.add(delivery.address):
            raise TransportError("not a usable notification address", permanent=True)
        with apprise.LogCapture(level=apprise.logging.WARNING) as log:
            ok = notifier.notify(title=delivery.subject, body=delivery.body)
            detail = log.getvalue().strip().splitlines()
        if not ok:
            raise TransportError(detail[-1][:500] if detail else "notification service failed")


def transport_for(channel: DeliveryChannel, smtp: SmtpSettings) -> Transport:
    """The transport that delivers a channel."""
    if channel == DeliveryChannel.email:
        return EmailTransport(smtp)
    return AppriseTransport()
