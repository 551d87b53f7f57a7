"""The staff session: a signed cookie, held in the store until sign-out, and the guard every
/staff/ route passes through.

The cookie `phb_staff` = base64url(JSON {email, issued, expires, csrf}) + "." +
base64url(HMAC-SHA256 of that with `PHB_SESSION_SECRET`). It is HttpOnly, SameSite=Strict,
Secure outside the local stage, and lasts 8 hours; the payload's expiry is checked too, its
email must still be on the staff list, and the session must still be held in the store (keyed
by the SHA-256 of its CSRF token, which is random per session): signing out deletes it, so a
copied cookie stops working at sign-out. Every POST under /staff/ other than the two sign-in
forms must carry a form field `csrf` equal to the session's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from chalice.app import Response

from chalicelib.domain.identifiers import sha256
from chalicelib.domain.identity import address_key
from chalicelib.domain.policy import STAFF_SESSION_SECONDS
from chalicelib.web.requests import cookie_from
from chalicelib.web.responses import page, redirect

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services
    from chalicelib.config import Settings
    from chalicelib.domain.identity import StaffMember

COOKIE = "phb_staff"
# Only for the local and test stages, where nothing real is behind the console.
DEVELOPMENT_SECRET = "phb-pathway-local-development-session-secret-not-for-real-use"
MAX_COOKIE_CHARS = 2048


@dataclass(frozen=True)
class StaffSession:
    email: str
    issued: int
    expires: int
    csrf: str
    # The posted form fields (POST only), already parsed for the CSRF check.
    form: dict[str, str] = field(default_factory=dict, compare=False)


# --- the secret and the cookie ---------------------------------------------------------------


def secret_for(settings: Settings) -> bytes | None:
    """The signing key; None when sign-in must be switched off (never sign with an empty key)."""
    secret = settings.session_secret.strip()
    if secret:
        return secret.encode("utf-8")
    if settings.is_local:
        return DEVELOPMENT_SECRET.encode("utf-8")
    return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest())


def encode_session(session: StaffSession, secret: bytes) -> str:
    if not secret:
        raise ValueError("refusing to sign with an empty key")
    payload = _b64(json.dumps(
        {"email": session.email, "issued": session.issued, "expires": session.expires,
         "csrf": session.csrf}, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return f"{payload}.{_signature(secret, payload)}"


def decode_session(value: str, secret: bytes, now: int | None = None) -> StaffSession | None:
    """The session a cookie value carries, or None if it is malformed, forged or expired."""
    if not secret or not value or len(value) > MAX_COOKIE_CHARS or value.count(".") != 1:
        return None
    payload, signature = value.split(".")
    if not hmac.compare_digest(signature.encode("ascii", "replace"),
                               _signature(secret, payload).encode("ascii")):
        return None
    try:
        data = json.loads(_unb64(payload))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    email, issued, expires, csrf = (data.get(k) for k in ("email", "issued", "expires", "csrf"))
    if not (isinstance(email, str) and isinstance(csrf, str) and csrf
            and type(issued) is int and type(expires) is int):
        return None
    now = int(time.time()) if now is None else now
    if expires <= now or issued > now + 60 or expires - issued > STAFF_SESSION_SECONDS:
        return None
    return StaffSession(email=email, issued=issued, expires=expires, csrf=csrf)


def new_session(email: str, now: int | None = None) -> StaffSession:
    now = int(time.time()) if now is None else now
    return StaffSession(email=email, issued=now, expires=now + STAFF_SESSION_SECONDS,
                        csrf=secrets.token_urlsafe(32))


def _cookie_attributes(settings: Settings, max_age: int) -> str:
    secure = "" if settings.is_local else "; Secure"
    return (f"Path={settings.base_path}/staff; HttpOnly; SameSite=Strict; "
            f"Max-Age={max_age}{secure}")


def set_cookie(value: str, settings: Settings) -> str:
    return f"{COOKIE}={value}; {_cookie_attributes(settings, STAFF_SESSION_SECONDS)}"


def clear_cookie(settings: Settings) -> str:
    return f"{COOKIE}=; {_cookie_attributes(settings, 0)}"


# --- who is staff ----------------------------------------------------------------------------


def staff_member(email: str, settings: Settings) -> StaffMember | None:
    """The staff list's person with the address `email` (however either is typed), or None:
    only the list's people sign in, never an address because it gets the advisors' notices.
    Every entry is compared, so the time taken does not say which one matched."""
    wanted = address_key(email).encode()
    found = None
    for known in settings.staff:
        if hmac.compare_digest(wanted, address_key(known.email).encode()):
            found = known
    return found


def is_staff(email: str, settings: Settings) -> bool:
    return staff_member(email, settings) is not None


def current_session(svc: Services, headers: Any) -> StaffSession | None:
    """The signed-in person, or None: no cookie, a forged or expired one, or no longer staff."""
    secret = secret_for(svc.settings)
    value = cookie_from(headers.get("cookie"), COOKIE)
    if secret is None or value is None:
        return None
    session = decode_session(value, secret)
    if session is None or not is_staff(session.email, svc.settings):
        return None
    if not svc.store.sessions.is_live(sha256(session.csrf), int(time.time())):
        return None  # signed out
    return session


# --- the guard every /staff/ route uses -------------------------------------------------------


def not_configured() -> Response:
    return page("staff/problem.html", status=503, title="Sign-in is not configured",
                message="Staff sign-in is not configured for this service. Contact the team "
                        "that runs it.")


def forbidden(message: str = "You need to be signed in to do that.") -> Response:
    return page("staff/problem.html", status=403, title="You cannot do that", message=message,
                sign_in=True)


def require_staff(svc: Services, request: Any) -> StaffSession | Response:
    """The signed-in session, or the response to send instead.

    Anonymous GETs are sent to sign in (303); anonymous POSTs, and POSTs without the session's
    CSRF token in the form field `csrf`, are refused (403). On a POST the parsed form comes back
    in `session.form`.
    """
    if secret_for(svc.settings) is None:
        return not_configured()

    def problem(title: str, message: str, status: int) -> Response:
        return page("staff/problem.html", status=status, title=title, message=message)

    return signed_in(request, current_session(svc, request.headers), "/staff/sign-in",
                     problem, forbidden)


class Signed(Protocol):
    """A session a request carries: its CSRF token (and, a dataclass, its posted `form`)."""

    @property
    def csrf(self) -> str: ...


def signed_in[Session: Signed](request: Any, session: Session | None, sign_in_path: str,
                               problem: Callable[[str, str, int], Response],
                               refuse: Callable[..., Response]) -> Session | Response:
    """What a request may do with the session it carries (a staff or a referrer session, a
    frozen dataclass with `csrf` and `form`): anonymous GETs go to sign in (303), anonymous
    POSTs are refused, and a POST must carry the session's CSRF token in its form, which comes
    back parsed in `session.form`."""
    import dataclasses

    method = (request.method or "GET").upper()
    if session is None:
        if method in ("GET", "HEAD"):
            return redirect(sign_in_path)
        return refuse()
    if method in ("GET", "HEAD", "OPTIONS"):
        return session
    from chalicelib.web.forms import FormRejected, parse_form
    from chalicelib.web.requests import body_of

    try:
        posted = parse_form(body_of(request))
    except FormRejected as exc:
        return problem("There is a problem with the form", exc.message, 400)
    token = posted.get("csrf", "")
    csrf = str(session.csrf)
    if not hmac.compare_digest(token.encode("utf-8"), csrf.encode("utf-8")):
        return refuse("This form has expired or did not come from this service. Go back, "
                      "reload the page and try again.")
    return dataclasses.replace(session, form=posted)  # type: ignore[type-var]


def sign_out(svc: Services, request: Any) -> Response:
    session = require_staff(svc, request)
    if isinstance(session, Response):
        return session
    svc.store.sessions.end(sha256(session.csrf))
    return redirect("/staff/sign-in", headers={"Set-Cookie": clear_cookie(svc.settings)})
