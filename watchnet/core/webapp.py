"""The supporters' installable web app: the manifest, the service worker and its offline page.

The supporter's pages (their home /me, a drill's field page, the personal alert page) form an
app a phone can add to its home screen. The worker (static/js/sw.js, served at the site's
root so that its scope covers every supporter page) keeps the pages' shell — scripts,
stylesheets, Leaflet and the icons — in a cache named after a hash of those files, and answers
a supporter page's navigation from the network first, from its stored copy when there is no
network, so a reload in a dead spot shows the page with the items still queued on the phone.

Personal data and the stored copies. A page is kept only when its response says so in the
`Watchnet-Offline-Copy: max-age=N` header (mark_offline_copy), which the views set on the
supporter's home, the field page and an active alert page — never on JSON, photos or any other
answer, and the worker never stores anything that lacks it. The alert page's
`Cache-Control: no-store` is kept: it keeps the page out of HTTP caches and the browser's own
cache, while the worker's copy is a deliberate, bounded exception that ends when:
- the page's network answer no longer carries the header (the alert was closed and the link
  shows the thank-you, a 404): that page's copy is deleted;
- any supporter page answers 403 (the link was revoked, the supporter deactivated or signed
  out): every stored page of this phone is deleted; so it is when a sign-in link (/s/...) is
  opened, since another person may be signing in on the phone;
- the open alert page learns from its state poll that the alert was closed or its access
  ended (static/js/alert_field.js → lib/webapp.js forgetOfflineCopies);
- it is older than OFFLINE_COPY_MAX_AGE_H hours: the worker deletes it instead of showing it.
The worker fetches a page by itself only once, at the page's request, when the page was
opened before the worker controlled it (the first visit): that fetch carries the
Watchnet-Offline-Fill header, and the alert page's audit record calls it "offline_copy".
Nothing is fetched or stored that the supporter did not open.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _

from watchnet.core.views import VENDOR_DIRS

bp = Blueprint("webapp", __name__)

OFFLINE_HEADER = "Watchnet-Offline-Copy"
# On the worker's one fetch of a page opened before it took over (to keep it offline).
FILL_HEADER = "Watchnet-Offline-Fill"
THEME_COLOR = "#123b5e"  # the site header's navy (static/css/app.css)
BACKGROUND_COLOR = "#fafaf7"

# What the worker keeps for the supporter pages: every script, stylesheet and icon they load
# (tests/webapp/test_webapp_views.py checks this list against the pages and their imports).
SHELL_STATIC = (
    "css/app.css",
    "css/map.css",
    "css/field.css",
    "css/alert_field.css",
    "js/lib/actions.js",
    "js/lib/dom.js",
    "js/lib/geo.js",
    "js/lib/geolocation.js",
    "js/lib/live.js",
    "js/lib/webapp.js",
    "js/webapp.js",
    "js/me.js",
    "js/field.js",
    "js/field_queue.js",
    "js/alert_field.js",
    "icons/icon-192.png",
    "icons/icon-512.png",
    "icons/maskable-192.png",
    "icons/maskable-512.png",
    "icons/apple-touch-icon.png",
    "icons/badge-96.png",
)
SHELL_VENDOR = (
    ("leaflet", "leaflet.js"),
    ("leaflet", "leaflet.css"),
    ("jquery", "jquery.min.js"),
)
WORKER_SOURCE = "js/sw.js"
OFFLINE_TEMPLATE = "webapp/offline.html"


def is_offline_fill() -> bool:
    """True for the worker's fetch of a page to keep (not the supporter opening it again)."""
    return request.headers.get(FILL_HEADER) == "1"


def mark_offline_copy(response: Response) -> Response:
    """Let the service worker keep this page for a reload without network (a supporter page
    that answered 200 with HTML); the copy lasts at most OFFLINE_COPY_MAX_AGE_H hours."""
    if response.status_code == 200 and response.mimetype == "text/html":
        max_age_s = int(current_app.config["OFFLINE_COPY_MAX_AGE_H"]) * 3600
        response.headers[OFFLINE_HEADER] = f"max-age={max_age_s}"
    return response


def _static_dir() -> Path:
    return Path(current_app.static_folder or "static")


def shell_urls() -> list[str]:
    """The URLs the worker stores when it is installed."""
    urls = [url_for("static", filename=name) for name in SHELL_STATIC]
    urls += [url_for("core.vendor", lib=lib, filename=name) for lib, name in SHELL_VENDOR]
    urls.append(url_for("webapp.offline"))
    return urls


def _shell_files() -> list[Path]:
    files = [_static_dir() / WORKER_SOURCE]
    files += [_static_dir() / name for name in SHELL_STATIC]
    files += [Path(VENDOR_DIRS[lib]) / name for lib, name in SHELL_VENDOR]
    files.append(Path(current_app.root_path, current_app.template_folder or "") / OFFLINE_TEMPLATE)
    return files


def shell_version() -> str:
    """A hash of the worker and every file of the shell: a new release changes the worker's
    bytes, so phones install it and replace the old cache (worked out once per process)."""
    cached: str | None = current_app.extensions.get("watchnet_shell_version")
    if cached is not None and not current_app.debug:
        return cached
    digest = hashlib.sha256()
    for path in _shell_files():
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"(missing)")
    version = digest.hexdigest()[:16]
    current_app.extensions["watchnet_shell_version"] = version
    return version


def _prefix(endpoint: str, variable: str) -> str:
    """The path before a route's variable part: /a/ for /a/<token>."""
    placeholder = "PLACEHOLDER0"
    values: dict[str, Any] = {variable: placeholder}
    return url_for(endpoint, **values).split(placeholder, 1)[0]


def worker_config() -> dict[str, Any]:
    """What the worker needs to know, prepended to its code as `self.WATCHNET_SW`."""
    home = url_for("people.supporter_home")
    return {
        "version": shell_version(),
        "shell": shell_urls(),
        "offline_url": url_for("webapp.offline"),
        "home_url": home,
        # Navigations the worker answers (network first, then the stored copy or the offline
        # page); every other request goes to the network untouched.
        "pages": [
            {"path": home, "exact": True},
            {"path": url_for("field.home"), "exact": False},
            {"path": _prefix("alert_field.show", "token"), "exact": False},
        ],
        "signin_prefix": _prefix("auth.supporter_signin", "token"),
        "offline_header": OFFLINE_HEADER,
        "fill_header": FILL_HEADER,
        "icon": url_for("static", filename="icons/icon-192.png"),
        "badge": url_for("static", filename="icons/badge-96.png"),
        "lang": str(get_locale() or "ja"),
        "strings": {
            "title": _("watchnet"),
            "body": _("There is a new message for you. Tap to open it."),
        },
    }


@bp.get("/sw.js")
def service_worker() -> Response:
    """The worker's code with its settings; at the root so its scope is the whole site."""
    config = json.dumps(worker_config(), ensure_ascii=False, separators=(",", ":"))
    code = (_static_dir() / WORKER_SOURCE).read_text(encoding="utf-8")
    response = Response(f"self.WATCHNET_SW = {config};\n{code}", mimetype="text/javascript")
    # Browsers check for a new worker on navigations; no-cache makes every check ask us.
    # (Served from the root, the default scope is already "/": no Service-Worker-Allowed.)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/manifest.webmanifest")
def manifest() -> Response:
    """The web app manifest; ?lang=en|ja picks the language of the names (browsers fetch it
    without cookies, so the page's link says which)."""
    languages = current_app.config["LANGUAGES"]
    lang = request.args.get("lang")
    if lang not in languages:
        lang = str(current_app.config["BABEL_DEFAULT_LOCALE"])
    home = url_for("people.supporter_home")
    icon = _icon_entry
    with force_locale(lang):
        body = {
            # The id stays the same in every language: one installed app, not two.
            "id": home,
            "name": _("watchnet for supporters"),
            "short_name": _("Watch network"),
            "description": _("Walking drills and search requests of the community watch network"),
            "lang": lang,
            "dir": "ltr",
            "start_url": home,
            "scope": url_for("core.index"),
            "display": "standalone",
            "theme_color": THEME_COLOR,
            "background_color": BACKGROUND_COLOR,
            "icons": [
                icon("icons/icon-192.png", 192, "any"),
                icon("icons/icon-512.png", 512, "any"),
                icon("icons/maskable-192.png", 192, "maskable"),
                icon("icons/maskable-512.png", 512, "maskable"),
            ],
        }
    response = Response(
        json.dumps(body, ensure_ascii=False, indent=1), mimetype="application/manifest+json"
    )
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def _icon_entry(name: str, size: int, purpose: str) -> dict[str, str]:
    return {
        "src": url_for("static", filename=name),
        "sizes": f"{size}x{size}",
        "type": "image/png",
        "purpose": purpose,
    }


@bp.get("/offline")
def offline() -> str:
    """The page a supporter page shows without network when no copy of it is stored. It is
    stored when the worker is installed, so it names nobody and holds no token."""
    return render_template(OFFLINE_TEMPLATE)
