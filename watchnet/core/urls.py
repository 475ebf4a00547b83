"""Is a redirect target one of our own pages? (login's `next=`, the language switch).

A prefix test (`startswith("/") and not startswith("//")`) is not enough, because the browser,
not Python, decides where a Location header goes, and browsers follow the WHATWG URL standard:
- tabs, carriage returns and line feeds anywhere in a URL are removed before it is parsed, so
  `/\t/evil.example` becomes `//evil.example`, a scheme-relative URL to another host;
- in http(s) URLs a backslash is a slash, so `/\\evil.example` and `\\/evil.example` leave too;
- leading C0 control characters and spaces are stripped, so `\x01//evil.example` leaves too;
- three or more slashes still mean "authority follows" (`///evil.example` goes to evil.example),
  and `http:evil.example` or `http:///evil.example` name a host although `urlsplit` sees a path.
Query-string decoding turns `%09` into a tab before our code sees it, so `/%09/evil.example`
is the first case.

`url_has_allowed_host_and_scheme` follows Django's function of the same name
(django/utils/http.py, kept by the Django security team for a decade of such reports): split the
URL with `urlsplit` (which, like browsers, drops tab/CR/LF), check both the URL and the URL with
backslashes turned into slashes, refuse `///`, refuse a scheme without a host, refuse a leading
control character, and accept only http/https on an allowed host. No PyPI package smaller than
Django carries it, so it is copied here rather than pulling in Django.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, url_for
from werkzeug.routing import BuildError


def _has_allowed_host_and_scheme(url: str, allowed_hosts: set[str], require_https: bool) -> bool:
    # Chrome treats any URL with three or more leading slashes as absolute; urlsplit does not.
    if url.startswith("///"):
        return False
    try:
        url_info = urlsplit(url)
    except ValueError:  # e.g. an invalid IPv6 address in the host
        return False
    # "http:///evil.example": urlsplit sees no host, the browser goes to evil.example.
    if not url_info.netloc and url_info.scheme:
        return False
    # Browsers skip leading control characters and might then see a scheme-relative URL.
    if unicodedata.category(url[0])[0] == "C":
        return False
    scheme = url_info.scheme
    if not url_info.scheme and url_info.netloc:
        scheme = "http"  # "//host/path" is scheme-relative: the page's scheme, http or https
    valid_schemes = ("https",) if require_https else ("http", "https")
    return (not url_info.netloc or url_info.netloc in allowed_hosts) and (
        not scheme or scheme in valid_schemes
    )


def url_has_allowed_host_and_scheme(
    url: str | None, allowed_hosts: Iterable[str] | str | None, require_https: bool = False
) -> bool:
    """True when `url` is safe to redirect to: a relative URL, or an http(s) URL whose host
    (with port, as in the Host header) is one of `allowed_hosts`. Empty is never safe."""
    if url is not None:
        url = url.strip()
    if not url:
        return False
    if allowed_hosts is None:
        hosts: set[str] = set()
    elif isinstance(allowed_hosts, str):
        hosts = {allowed_hosts}
    else:
        hosts = set(allowed_hosts)
    # Chrome treats "\" as "/" in paths, but a backslash could also sit in user:password@
    # credentials, so both readings must be safe.
    return _has_allowed_host_and_scheme(url, hosts, require_https) and _has_allowed_host_and_scheme(
        url.replace("\\", "/"), hosts, require_https
    )


def safe_redirect_target(target: str | None, fallback: str) -> str:
    """`target` if it stays on this site (the request's own host), else `fallback`."""
    from flask import request

    if url_has_allowed_host_and_scheme(target, {request.host}, require_https=request.is_secure):
        assert target is not None
        # What the browser would do anyway; a raw CR/LF would also be refused in a header.
        return re.sub(r"[\t\r\n]", "", target.strip())
    return fallback


def public_url(endpoint: str, fallback_path: str | None = None, **values: Any) -> str:
    """The absolute URL of a page for a message that leaves the app (mail, apprise, QR codes):
    on PUBLIC_BASE_URL when it is set, else the request's or SERVER_NAME's host.

    Outside a request without SERVER_NAME url_for cannot build a URL; then fallback_path (the
    page's path) is returned when given, else the error propagates."""
    try:
        path = url_for(endpoint, **values)
    except (BuildError, RuntimeError):
        if fallback_path is None:
            raise
        path = fallback_path
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return str(base).rstrip("/") + path
    try:
        return url_for(endpoint, _external=True, **values)
    except (BuildError, RuntimeError):
        if fallback_path is None:
            raise
        return path


_THIS_MACHINE = {"localhost", "0.0.0.0", "::1", "[::1]"}  # noqa: S104 - names, not a bind


def points_at_this_machine(url: str) -> bool:
    """Whether a link would only work on the server itself (127.0.0.1, localhost): printed or
    sent, it leads nowhere — PUBLIC_BASE_URL is not set."""
    host = (urlsplit(url).hostname or "").lower()
    return host in _THIS_MACHINE or host.startswith("127.") or host.endswith(".localhost")
