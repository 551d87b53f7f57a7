"""What every request and every response of the app keeps to, whatever the route: one Chalice
middleware, so a route added later cannot forget it.

- **Same origin for every change.** A POST (or PUT, PATCH, DELETE) is done only when it came
  from this service's own pages: the browser says `Sec-Fetch-Site: same-origin`, or, a browser
  that sends no `Sec-Fetch-Site`, an `Origin` equal to the public address. `same-site`,
  `cross-site`, `none` and `Origin: null` are refused, so no page elsewhere can submit, reset
  or sign in through a visitor's browser. A request with neither header is no browser's; it is
  let through only to routes that take JSON alone (the referral API, the local fault switch),
  which a page elsewhere cannot post without a CORS preflight this service never grants.
- **Security headers on every response**: pages, JSON, redirects, files, and Chalice's own
  errors (404, 405, 415). A route that sets one of them itself (the local outbox's stricter
  policy for an email's HTML) keeps its own.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from chalice.app import Request, Response

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    # Everything is served by the app itself: no third-party scripts, styles or fonts.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    # HTTPS only, for a year, on every subdomain too (browsers ignore it over plain HTTP, so
    # the local stack is unaffected).
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    # No page here needs a device's camera, microphone, location or the like: none may ask.
    "Permissions-Policy": (
        "accelerometer=(), autoplay=(), camera=(), display-capture=(), encrypted-media=(), "
        "fullscreen=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), "
        "midi=(), payment=(), picture-in-picture=(), publickey-credentials-get=(), "
        "screen-wake-lock=(), usb=(), xr-spatial-tracking=()"
    ),
    "X-Content-Type-Options": "nosniff",
    # Action links carry secrets in their path: never sent to another site. `same-origin`
    # (not `no-referrer`) because under `no-referrer` browsers send `Origin: null` with this
    # service's own forms, and the origin check above needs the real one.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The routes that read JSON alone (each refuses another content type with 415): the only ones
# a request from no browser (no Sec-Fetch-Site, no Origin) may change something through.
JSON_ROUTES = frozenset({"/api/referrals", "/dev/faults"})
REFUSED = ("This form did not come from this service's own page, so nothing was done. Open the "
           "page on this service again and send it from there.")


def install(app: Any, check_origins: bool = True) -> None:
    """Check every request's origin (unless told not to: a function refusing to serve) and
    add the security headers to every response."""

    def secure(request: Request | None, get_response: Callable[[Any], Response]) -> Response:
        if check_origins and request is not None:
            # Before anything reads the address: the origin check, the page's links. (A
            # function refusing to serve has no settings to read; a setting that fails to
            # read fails the view too, which answers its plain 503.)
            from chalicelib.config import get_settings, learn_api_address

            with contextlib.suppress(RuntimeError):
                learn_api_address(get_settings(), request.context)
        return secured(app.routes if check_origins else {}, request, get_response)

    app.register_middleware(secure, "http")


def secured(routes: dict[str, dict[str, Any]], request: Request | None,
            get_response: Callable[[Any], Response]) -> Response:
    """The middleware: refuse a change from another origin; headers on whatever is answered.
    A method the route does not have is left to Chalice's 405."""
    method = request.method.upper() if request is not None else ""
    if request is not None and method in STATE_CHANGING \
            and method in routes.get(_route(request), {}) \
            and not from_this_service(request.headers, _route(request) in JSON_ROUTES):
        log.warning("Refused a %s to %s from another origin (Sec-Fetch-Site %r, Origin %r)",
                    request.method, _route(request), request.headers.get("sec-fetch-site"),
                    (request.headers.get("origin") or "")[:100])
        response = _refused(_route(request))
    else:
        response = get_response(request)
    present = {name.lower() for name in response.headers}
    for name, value in SECURITY_HEADERS.items():
        if name.lower() not in present:
            response.headers[name] = value
    return response


def from_this_service(headers: Any, json_only: bool) -> bool:
    """True when a state-changing request came from this service's own pages (or, for a route
    taking JSON alone, from no browser at all)."""
    fetch_site = (headers.get("sec-fetch-site") or "").strip().lower()
    if fetch_site:  # every current browser says where a request comes from
        return fetch_site == "same-origin"
    origin = (headers.get("origin") or "").strip()
    if origin:
        return origin.rstrip("/").lower() == public_origin()
    return json_only


def public_origin() -> str:
    """The public address's origin (`https://phb.example.org`), as browsers send it."""
    from chalicelib.config import get_settings

    ours = urlsplit(get_settings().base_url)
    return f"{ours.scheme}://{ours.netloc}".lower()


def _route(request: Request) -> str:
    return str((request.context or {}).get("resourcePath") or "")


def _refused(route: str) -> Response:
    from chalicelib.web.responses import json_response, page

    if route.startswith("/api/") or route.startswith("/dev/"):
        return json_response({"errors": [{"field": "", "message": REFUSED}]}, status=403)
    return page("error.html", status=403, title="You cannot do that", message=REFUSED)
