"""What every channel's transport shares: the error it raises, the message it is given, and the
registry that maps a channel to the factory of its transport.

A transport only sends and classifies failures; retries, backoff, claiming and recording live
once, in watchnet.jobs.deliveries. Transports are shared by the dispatcher's sending threads:
connections are kept per thread and reused from one message to the next.
Every message carries its stable delivery key in the channel's own field (e-mail Message-ID,
the `X-Watchnet-Delivery` webhook header, LINE's retry key, the push Topic) so a receiver can
drop a repeat: see the guarantee in jobs/deliveries.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from watchnet.core.config import TRANSPORT_TIMEOUT_SETTINGS
from watchnet.notifications.models import DeliveryChannel

DELIVERY_HEADER = "X-Watchnet-Delivery"


def longest_timeout_s(config: Mapping[str, Any]) -> float:
    """The longest network timeout any transport may wait (settings not present are skipped)."""
    return max(float(config[k]) for k in TRANSPORT_TIMEOUT_SETTINGS if config.get(k))


class TransportError(Exception):
    """Sending failed. `permanent`: retrying cannot help (bad address, refused). `gone`: the
    address no longer exists (a push subscription answered 404/410, a LINE user blocked the
    account), so the dispatcher also switches that channel of the recipient off."""

    def __init__(self, reason: str, permanent: bool = False, gone: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent or gone
        self.gone = gone


class Message(Protocol):
    """What a transport needs of a message (the dispatcher's snapshot of a Delivery row)."""

    @property
    def id(self) -> int: ...
    @property
    def dedupe_key(self) -> str: ...
    @property
    def channel(self) -> DeliveryChannel: ...
    @property
    def channel_ref(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def link(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def answer_topic(self) -> str: ...
    @property
    def supporter_id(self) -> int | None: ...


class Transport(Protocol):
    def send(self, message: Message) -> str | None:
        """Send one message; returns the provider's id for it (a gateway's message SID) or
        None. Raises TransportError."""
        ...

    def close(self) -> None: ...


TransportFactory = Callable[[Mapping[str, Any]], Transport]

_FACTORIES: dict[DeliveryChannel, TransportFactory] = {}


def register_transport(channel: DeliveryChannel, factory: TransportFactory) -> None:
    """Make `factory(app_config)` the builder of `channel`'s transport (one per dispatcher)."""
    _FACTORIES[channel] = factory


def transport_factory(channel: DeliveryChannel) -> TransportFactory:
    try:
        return _FACTORIES[channel]
    except KeyError:
        raise LookupError(f"no transport registered for channel {channel!s}") from None


class TransportSet:
    """The transports of one dispatcher, built lazily per channel, shared by its threads."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        """`config`: the app's settings plus INSTANCE_PATH (see jobs.deliveries)."""
        self.config = config
        self._built: dict[DeliveryChannel, Transport] = {}
        self._lock = threading.Lock()

    def for_channel(self, channel: DeliveryChannel) -> Transport:
        transport = self._built.get(channel)
        if transport is None:
            with self._lock:
                transport = self._built.get(channel)
                if transport is None:
                    transport = self._built[channel] = transport_factory(channel)(self.config)
        return transport

    def send(self, message: Message) -> str | None:
        return self.for_channel(message.channel).send(message)

    def close(self) -> None:
        for transport in list(self._built.values()):
            transport.close()
