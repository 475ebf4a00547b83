"""One transport per channel, behind the small interface in base.py. Importing this package
registers every channel's transport."""

from watchnet.notifications.transports import email, line, push, sms, voice, webhook
from watchnet.notifications.transports.base import (
    DELIVERY_HEADER,
    Message,
    Transport,
    TransportError,
    TransportSet,
    register_transport,
)

__all__ = [
    "DELIVERY_HEADER",
    "Message",
    "Transport",
    "TransportError",
    "TransportSet",
    "email",
    "line",
    "push",
    "register_transport",
    "sms",
    "voice",
    "webhook",
]
