"""The referrer's session: a signed cookie, held in the store until sign-out, and the guard every
/my-referrals route passes through.

It is built as the staff session is (`chalicelib/staff/sessions.py`: the same cookie format,
HttpOnly, SameSite=Strict, Secure outside the local stage, a CSRF token per session, the
session held in the store until sign-out) but can never stand in for one, nor one for it:

- its own cookie, `phb_referrer`, sent only under /my-referrals;
- signed with a key derived from `PHB_SESSION_SECRET` for referrers alone, so a referrer's
  cookie value does not verify as a staff cookie (nor a staff one as a referrer's);
- held in the store under a hash of its CSRF token with a referrer prefix, so even a cookie
  that verified would not find a live staff session, nor a staff one a referrer's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chalice.app import Response

from chalicelib.domain.identifiers import sha256
from chalicelib.domain.policy import REFERRER_SESSION_SECONDS
from chalicelib.staff import sessions as staff_sessions
from chalicelib.web.requests import cookie_from
from chalicelib.web.responses import page, redirect

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services
    from chalicelib.config import Settings

COOKIE = "phb_referrer"
HOME = "/my-referrals"
SIGN_IN_PATH = f"{HOME}/sign-in"


@dataclass(frozen=True)
class ReferrerSession:
    """A signed-in referrer: the address they signed in with, as it is kept."""

    email: str
    issued: int
    expires: int
    csrf: str
    # The posted form fields (POST only), already parsed for the CSRF check.
    form: dict[str, str] = field(default_factory=dict, compare=False)


def secret_for(settings: Settings) -> bytes | None:
    """The referrers' signing key, derived from the session secret; None when sign-in must be
    switched off (as for staff: never sign with an empty key)."""
    base = staff_sessions.secret_for(settings)
    if base is None:
        return None
    return hmac.new(base, b"phb-pathway referrer session cookie", hashlib.sha256).digest()


def stored_as(csrf: str) -> str:
    """The session's key in the store: never the hash a staff session is kept under."""
    return sha256(f"referrer-session:{csrf}")


def new_session(email: str, now: int | None = None) -> ReferrerSession:
    now = int(time.time()) if now is None else now
    return ReferrerSession(email=email, issued=now, expires=now + REFERRER_SESSION_SECONDS,
                           csrf=secrets.token_urlsafe(32))


def encode(session: ReferrerSession, secret: bytes) -> str:
    """The cookie value: the staff cookie's format (its encoder carries only the four fields),
    under the referrers' own key."""
    return staff_sessions.encode_session(staff_sessions.StaffSession(
        session.email, session.issued, session.expires, session.csrf), secret)


def decode(value: str, secret: bytes) -> ReferrerSession | None:
    """The session a cookie value carries, or None if it is malformed, forged or expired."""
    found = staff_sessions.decode_session(value, secret)
    if found is None:
        return None
    return ReferrerSession(found.email, found.issued, found.expires, found.csrf)


def _cookie_attributes(settings: Settings, max_age: int) -> str:
    secure = "" if settings.is_local else "; Secure"
    return (f"Path={settings.base_path}{HOME}; HttpOnly; SameSite=Strict; "
            f"Max-Age={max_age}{secure}")


def set_cookie(value: str, settings: Settings) -> str:
    return f"{COOKIE}={value}; {_cookie_attributes(settings, REFERRER_SESSION_SECONDS)}"


def clear_cookie(settings: Settings) -> str:
    return f"{COOKIE}=; {_cookie_attributes(settings, 0)}"


def start(svc: Services, email: str) -> str:
    """Start a session for `email` (held in the store); the Set-Cookie header's value."""
    secret = secret_for(svc.settings)
    if secret is None:
        raise RuntimeError("referrer sign-in is not configured")
    session = new_session(email)
    svc.store.sessions.start(stored_as(session.csrf), session.email, session.expires)
    return set_cookie(encode(session, secret), svc.settings)


def current_session(svc: Services, headers: Any) -> ReferrerSession | None:
    """The signed-in referrer, or None: no cookie, a forged or expired one, or signed out."""
    secret = secret_for(svc.settings)
    value = cookie_from(headers.get("cookie"), COOKIE)
    if secret is None or value is None:
        return None
    session = decode(value, secret)
    if session is None or not svc.store.sessions.is_live(stored_as(session.csrf),
                                                         int(time.time())):
        return None
    return session


def problem(title: str, message: str, status: int, sign_in: bool = False) -> Response:
    """A plain page of the referrers' area saying what went wrong and what to do."""
    return page("referrers/problem.html", status=status, title=title, message=message,
                sign_in=sign_in)


def not_configured() -> Response:
    return problem("Sign-in is not configured",
                   "Signing in to see your referrals is not configured for this service. "
                   "Contact the PHB team.", 503)


def forbidden(message: str = "You need to be signed in to do that.") -> Response:
    return problem("You cannot do that", message, 403, sign_in=True)


def require_referrer(svc: Services, request: Any) -> ReferrerSession | Response:
    """The signed-in referrer, or the response to send instead: the same rules as the staff
    console's (`staff.sessions.signed_in`), with this area's own session and pages."""
    if secret_for(svc.settings) is None:
        return not_configured()
    return staff_sessions.signed_in(request, current_session(svc, request.headers),
                                    SIGN_IN_PATH, problem, forbidden)


def sign_out(svc: Services, request: Any) -> Response:
    session = require_referrer(svc, request)
    if isinstance(session, Response):
        return session
    svc.store.sessions.end(stored_as(session.csrf))
    return redirect(SIGN_IN_PATH, headers={"Set-Cookie": clear_cookie(svc.settings)})
