"""A desktop notification server on a private D-Bus session bus, so a test can tap a
notification that the service worker showed, as a person would.

Chromium on Linux hands notifications to whoever owns `org.freedesktop.Notifications` on the
session bus (the freedesktop.org Desktop Notifications protocol that GNOME, KDE and
notify-osd implement): it calls GetCapabilities, GetServerInformation and Notify, and treats
the `ActionInvoked(id, "default")` signal as a click on the notification. A click that comes
this way is a real one: Chromium dispatches a trusted `notificationclick` to the worker and
allows it to open or focus a window (a synthetic event may do neither). Chromium routes the
click to its regular profile, so the browser must run with a persistent context (Playwright's
launch_persistent_context), not an incognito-like new_context().

The server speaks D-Bus with jeepney (pure Python); the bus is a dbus-daemon of our own,
with a minimal configuration of its own in a temporary folder (only the dbus-daemon program
is needed: apt-get install dbus-daemon).
"""

from __future__ import annotations

import queue
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jeepney import (
    DBusAddress,
    HeaderFields,
    MessageType,
    new_error,
    new_method_return,
    new_signal,
)
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
# A session bus that anyone on this machine's user may use, listening in its own folder.
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={folder}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def dbus_daemon_available() -> bool:
    return shutil.which("dbus-daemon") is not None


class SessionBus:
    """A private dbus-daemon; `address` goes into DBUS_SESSION_BUS_ADDRESS of the browser."""

    def __init__(self) -> None:
        self.folder = tempfile.TemporaryDirectory(prefix="watchnet-bus-")
        config = Path(self.folder.name) / "bus.conf"
        config.write_text(BUS_CONFIG.format(folder=self.folder.name))
        self.process = subprocess.Popen(
            ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        self.address = self.process.stdout.readline().strip()
        if not self.address:
            raise RuntimeError("dbus-daemon did not print its address")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.folder.cleanup()


@dataclass
class Shown:
    """One notification as the desktop received it."""

    id: int
    app_name: str
    summary: str
    body: str
    actions: list[str]
    hints: dict[str, Any] = field(default_factory=dict)


class NotificationServer:
    """Owns org.freedesktop.Notifications; records what is shown and closed, and clicks."""

    CAPABILITIES = ["actions", "body", "body-hyperlinks", "body-markup", "persistence"]

    def __init__(self, bus_address: str) -> None:
        self.conn = open_dbus_connection(bus=bus_address)
        reply = self.conn.send_and_get_reply(message_bus.RequestName(NAME))
        if reply.body[0] != 1:  # DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER
            raise RuntimeError(f"could not own {NAME}: {reply.body}")
        self.shown: list[Shown] = []
        self.closed: list[int] = []
        self._lock = threading.Lock()
        self._outbox: queue.Queue[Any] = queue.Queue()
        self._next_id = 1
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        # One thread owns the connection: signals to send wait in _outbox.
        while not self._stopping:
            while True:
                try:
                    self.conn.send(self._outbox.get_nowait())
                except queue.Empty:
                    break
            try:
                msg = self.conn.receive(timeout=0.05)
            except TimeoutError:
                continue
            except OSError:
                return
            if msg.header.message_type != MessageType.method_call:
                continue
            self._answer(msg, str(msg.header.fields.get(HeaderFields.member, "")))

    def _answer(self, msg: Any, member: str) -> None:
        if member == "GetCapabilities":
            self.conn.send(new_method_return(msg, "as", (self.CAPABILITIES,)))
        elif member == "GetServerInformation":
            info = ("watchnet-tests", "watchnet", "1", "1.2")  # name, vendor, version, spec
            self.conn.send(new_method_return(msg, "ssss", info))
        elif member == "Notify":
            app_name, _replaces, _icon, summary, body, actions, hints, _timeout = msg.body
            with self._lock:
                nid = self._next_id
                self._next_id += 1
                self.shown.append(Shown(nid, app_name, summary, body, list(actions), dict(hints)))
            self.conn.send(new_method_return(msg, "u", (nid,)))
        elif member == "CloseNotification":
            with self._lock:
                self.closed.append(int(msg.body[0]))
            self.conn.send(new_method_return(msg))
        else:
            self.conn.send(
                new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", "s", (member,))
            )

    def wait_for_shown(self, count: int = 1, timeout_s: float = 10.0) -> list[Shown]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.shown) >= count:
                    return list(self.shown)
            time.sleep(0.05)
        raise AssertionError(f"{count} notification(s) not shown; shown: {self.shown}")

    def wait_for_closed(self, nid: int, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if nid in self.closed:
                    return
            time.sleep(0.05)
        raise AssertionError(f"notification {nid} was not closed; closed: {self.closed}")

    def click(self, nid: int) -> None:
        """The person taps the notification (its default action)."""
        address = DBusAddress(PATH, interface=NAME)
        self._outbox.put(new_signal(address, "ActionInvoked", "us", (nid, "default")))

    def stop(self) -> None:
        self._stopping = True
        self._thread.join(2)
        self.conn.close()
