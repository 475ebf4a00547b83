"""Security headers on every response, the CSP nonce, Secure cookies and the proxy setting.

One after_request sets the headers, so static files, JSON, redirects and error pages carry them
as well as pages. Blueprints that need a stricter header (the supporters' personal links send
`Referrer-Policy: no-referrer`) set it themselves first; it is kept.
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, g, request
from markupsafe import Markup
from werkzeug.wrappers import Response

from watchnet.core.config import ConfigError

GSI_ORIGIN = "https://cyberjapandata.gsi.go.jp"

# An inline <script> start tag (no src: those load from 'self') that carries no nonce yet.
_SCRIPT_TAG = re.compile(r"<script\b(?![^>]*\b(?:nonce|src)=)", re.IGNORECASE)


def csp_nonce() -> str:
    """This request's nonce for inline <script> elements (a Jinja global); made on first use,
    so a response whose page has no inline script sends no nonce at all."""
    nonce: str | None = g.get("csp_nonce")
    if nonce is None:
        nonce = secrets.token_urlsafe(18)
        g.csp_nonce = nonce
    return nonce


def with_nonce(markup: Any) -> Markup:
    """Add this request's nonce to every inline <script> in trusted markup (Folium's header:
    the `L_NO_TOUCH` block; its asset tags load from /vendor/, which 'self' allows). Only for
    markup we generate: user text in Folium output is escaped by escape_for_map, so it
    contains no `<script`."""
    nonce = csp_nonce()
    return Markup(_SCRIPT_TAG.sub(f'<script nonce="{nonce}"', str(markup)))  # noqa: S704


def tile_origin(tile_url: str) -> str | None:
    """The origin the map tiles come from, for img-src; `{s}` subdomains become a wildcard."""
    parts = urlsplit(tile_url)
    if not parts.scheme or not parts.netloc:
        return None  # a relative URL: tiles come from this site ('self')
    host = parts.netloc
    if host.startswith("{s}."):
        host = "*." + host[len("{s}.") :]
    return f"{parts.scheme}://{host}"


def content_security_policy(nonce: str | None, tiles: str | None) -> str:
    """The Content-Security-Policy header value."""
    script_src = "'self'" + (f" 'nonce-{nonce}'" if nonce else "")
    img_src = "'self' data: blob:" + (f" {tiles}" if tiles else "")
    directives = [
        "default-src 'self'",
        # Leaflet, jQuery and Folium's map code need no eval; inline scripts carry the nonce.
        f"script-src {script_src}",
        # Folium writes <style> blocks and Leaflet positions tiles and markers with style
        # attributes; a nonce here would make browsers ignore 'unsafe-inline', so none is added.
        "style-src 'self' 'unsafe-inline'",
        f"img-src {img_src}",
        "connect-src 'self'",  # fetch and EventSource go to this site only
        "font-src 'self'",
        # The supporters' service worker (/sw.js) and the app manifest come from this site
        # (watchnet/core/webapp.py); said outright rather than left to default-src.
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",  # no page of ours is framed (handouts print on their own)
    ]
    return "; ".join(directives)


def _flag(name: str, value: Any) -> bool | None:
    """A setting that is true, false or unset, whether it came from TOML (bool) or from the
    environment (a string)."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"", "auto", "none"}:
        return None
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"WATCHNET_{name} must be true or false, got {value!r}")


def _proxy_hops(value: Any) -> int:
    if isinstance(value, bool) or value is None:
        return int(bool(value))
    text = str(value).strip().lower()
    if text in {"true", "yes", "on"}:
        return 1
    if text in {"", "false", "no", "off"}:
        return 0
    try:
        hops = int(text)
    except ValueError as exc:
        raise ConfigError(
            f"WATCHNET_PROXY_FIX must be 0, 1 or the number of proxies, got {value!r}"
        ) from exc
    if hops < 0:
        raise ConfigError(f"WATCHNET_PROXY_FIX must not be negative, got {value!r}")
    return hops


def init_app(app: Flask) -> None:
    """Cookie and proxy settings, the nonce helpers for templates, the header hook."""
    cfg = app.config
    secure = _flag("SESSION_COOKIE_SECURE", cfg.get("SESSION_COOKIE_SECURE"))
    if secure is None:
        secure = str(cfg.get("PUBLIC_BASE_URL") or "").lower().startswith("https://")
    cfg["SESSION_COOKIE_SECURE"] = secure
    cfg["REMEMBER_COOKIE_SECURE"] = secure  # Flask-Login's cookie, should one ever be set

    hops = _proxy_hops(cfg.get("PROXY_FIX"))
    cfg["PROXY_FIX"] = hops
    if hops:
        # Only behind a proxy that sets these headers: otherwise any client could claim https
        # or another address (which the login throttle counts by).
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )

    tiles = tile_origin(cfg["TILE_URL"])
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.filters["with_nonce"] = with_nonce

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers["Content-Security-Policy"] = content_security_policy(g.get("csp_nonce"), tiles)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        if request.view_args and "token" in request.view_args:
            # The URL itself is the supporter's key: it must never travel on as a Referer.
            headers["Referrer-Policy"] = "no-referrer"
        else:
            headers.setdefault("Referrer-Policy", "same-origin")
        return response
