"""The staff console's sign-in: one-time emailed links and a signed session cookie.

Signing in: a person types their email; if it is on the staff list (`PHB_STAFF_EMAILS`) they
are emailed a link that works once, for 15 minutes. The answer page is the same whether or not
the address is on the list. The link's id is random and only its SHA-256 is stored. Opening the
link only shows a "Sign in" button (mail scanners fetch links); its POST uses the link up with a
conditional write and sets the session cookie.

The session is a cookie `phb_staff` = base64url(JSON {email, issued, expires, csrf}) + "." +
base64url(HMAC-SHA256 of that with `PHB_SESSION_SECRET`). It is HttpOnly, SameSite=Strict,
Secure outside the local stage, and lasts 8 hours; the payload's expiry is checked too, its
email must still be on the staff list, and the session must still be held in the table (keyed
by the SHA-256 of its CSRF token, which is random per session): signing out deletes it, so a
copied cookie stops working at sign-out. Every POST under /staff/ other than the two sign-in
forms must carry a form field `csrf` equal to the session's.

Every /staff/ route except sign-in starts with `require_staff(request)`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any

from chalice import Response

from chalicelib import aws
from chalicelib.config import Settings, get_settings
from chalicelib.errors import FieldError
from chalicelib.store import ReferralStore, sha256
from chalicelib.web import page, redirect

COOKIE = "phb_staff"
SESSION_SECONDS = 8 * 3600
LINK_SECONDS = 15 * 60
# Only for the local and test stages, where nothing real is behind the console.
DEVELOPMENT_SECRET = "phb-pathway-local-development-session-secret-not-for-real-use"
SIGN_IN_PATHS = ("/staff/sign-in", "/staff/sign-in/{link_id}")
MAX_COOKIE_CHARS = 2048


@dataclass(frozen=True)
class StaffSession:
    email: str
    issued: int
    expires: int
    csrf: str
    # The posted form fields (POST only), already parsed for the CSRF check.
    form: dict[str, str] = field(default_factory=dict, compare=False)


class SignInProblem(Exception):
    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.message = message


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
    if expires <= now or issued > now + 60 or expires - issued > SESSION_SECONDS:
        return None
    return StaffSession(email=email, issued=issued, expires=expires, csrf=csrf)


def new_session(email: str, now: int | None = None) -> StaffSession:
    now = int(time.time()) if now is None else now
    return StaffSession(email=email.lower(), issued=now, expires=now + SESSION_SECONDS,
                        csrf=secrets.token_urlsafe(32))


def _cookie_attributes(settings: Settings, max_age: int) -> str:
    secure = "" if settings.is_local else "; Secure"
    return (f"Path={settings.base_path}/staff; HttpOnly; SameSite=Strict; "
            f"Max-Age={max_age}{secure}")


def set_cookie(value: str, settings: Settings) -> str:
    return f"{COOKIE}={value}; {_cookie_attributes(settings, SESSION_SECONDS)}"


def clear_cookie(settings: Settings) -> str:
    return f"{COOKIE}=; {_cookie_attributes(settings, 0)}"


def cookie_value(cookie_header: str | None) -> str | None:
    if not cookie_header:
        return None
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(cookie_header)
    except CookieError:
        return None
    morsel = cookie.get(COOKIE)
    return morsel.value if morsel is not None else None


# --- who is staff ----------------------------------------------------------------------------


def is_staff(email: str, settings: Settings) -> bool:
    wanted = email.strip().lower()
    return any(hmac.compare_digest(wanted.encode(), known.strip().lower().encode())
               for known in settings.staff_emails)


def current_session(headers: Any, settings: Settings) -> StaffSession | None:
    """The signed-in person, or None: no cookie, a forged or expired one, or no longer staff."""
    secret = secret_for(settings)
    value = cookie_value(headers.get("cookie"))
    if secret is None or value is None:
        return None
    session = decode_session(value, secret)
    if session is None or not is_staff(session.email, settings):
        return None
    if not _store(settings).session_is_live(sha256(session.csrf), int(time.time())):
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


def require_staff(request: Any) -> StaffSession | Response:
    """The signed-in session, or the response to send instead.

    Anonymous GETs are sent to sign in (303); anonymous POSTs, and POSTs without the session's
    CSRF token in the form field `csrf`, are refused (403). On a POST the parsed form comes back
    in `session.form`.
    """
    settings = get_settings()
    if secret_for(settings) is None:
        return not_configured()
    session = current_session(request.headers, settings)
    method = (request.method or "GET").upper()
    if session is None:
        if method in ("GET", "HEAD"):
            return redirect("/staff/sign-in")
        return forbidden()
    if method in ("GET", "HEAD", "OPTIONS"):
        return session
    from chalicelib.form import FormRejected, parse_form

    try:
        posted = parse_form(request.raw_body or b"")
    except FormRejected:
        return forbidden("The form could not be read. Go back and try again.")
    token = posted.get("csrf", "")
    if not hmac.compare_digest(token.encode("utf-8"), session.csrf.encode("utf-8")):
        return forbidden("This form has expired or did not come from this service. Go back, "
                         "reload the page and try again.")
    return StaffSession(session.email, session.issued, session.expires, session.csrf, posted)


# --- sign-in pages ---------------------------------------------------------------------------


def from_another_site(headers: Any, settings: Settings) -> bool:
    """True for a POST a browser sent from another site's page. The two sign-in forms carry no
    CSRF token (nobody is signed in yet), so a page elsewhere could otherwise sign a visitor in
    as someone else, or send sign-in emails in their name."""
    from urllib.parse import urlsplit

    fetch_site = (headers.get("sec-fetch-site") or "").lower()
    if fetch_site:  # every current browser says where a request comes from
        return fetch_site == "cross-site"
    origin = (headers.get("origin") or "").strip()
    # No Origin (not a browser) or "null" (what browsers send under this service's
    # no-referrer policy): nothing to compare.
    if not origin or origin == "null":
        return False
    ours = urlsplit(settings.public_base_url)
    return origin.rstrip("/").lower() != f"{ours.scheme}://{ours.netloc}".lower()


def _cross_site() -> Response:
    return page("staff/problem.html", status=403, title="You cannot do that",
                message="This form did not come from this service. Open the staff console's "
                        "own sign-in page and try again.", sign_in=True)


def _store(settings: Settings) -> ReferralStore:
    return ReferralStore(aws.client("dynamodb"), settings.table_name)


def sign_in_page() -> Response:
    settings = get_settings()
    if secret_for(settings) is None:
        return not_configured()
    return _email_form({}, [], 200)


def _email_form(values: dict[str, str], errors: list[FieldError], status: int) -> Response:
    return page("staff/sign_in.html", status=status, values=values, errors=errors,
                error_for={e.field: e.message for e in errors}, anchor=lambda name: name)


def _check_email(text: str) -> str | FieldError:
    from email_validator import EmailNotValidError, validate_email

    text = text.strip()
    if not text:
        return FieldError("email", "Enter your email address")
    if len(text) > 254:
        return FieldError("email", "Email address must be 254 characters or fewer")
    try:
        return str(validate_email(text, check_deliverability=False).normalized).lower()
    except EmailNotValidError:
        return FieldError("email", "Enter an email address in the correct format, like "
                                   "name@nhs.net")


def request_link(body: bytes, headers: Any) -> Response:
    """Email a sign-in link if the address is staff; the answer is the same either way."""
    from chalicelib.form import FormRejected, parse_form

    settings = get_settings()
    if secret_for(settings) is None:
        return not_configured()
    if from_another_site(headers, settings):
        return _cross_site()
    try:
        posted = parse_form(body)
    except FormRejected as exc:
        return page("staff/problem.html", status=400, title="There is a problem with the form",
                    message=exc.message)
    typed = posted.get("email", "")
    checked = _check_email(typed)
    if isinstance(checked, FieldError):
        return _email_form({"email": typed}, [checked], 422)
    if is_staff(checked, settings):
        _send_link(checked, settings)
    return page("staff/check_email.html")


def _send_link(email: str, settings: Settings) -> None:
    from chalicelib import mail

    link_id = secrets.token_urlsafe(32)
    _store(settings).put_sign_in_link(sha256(link_id), email,
                                      valid_until=int(time.time()) + LINK_SECONDS)
    message = mail.compose(
        "sign_in", to=email, settings=settings, subject=f"Sign in to {settings.service_name}",
        link_url=f"{settings.public_base_url}/staff/sign-in/{link_id}",
        minutes=LINK_SECONDS // 60, reference="staff sign-in")
    mail.send(aws.client("ses"), settings, message)


def _look_up(store: ReferralStore, link_id: str) -> dict[str, Any]:
    unknown = SignInProblem(
        404, "This sign-in link is not valid",
        "Check you copied the whole link from the email, or ask for a new one.")
    if not (20 <= len(link_id) <= 100) or not link_id.replace("-", "").replace("_", "").isalnum():
        raise unknown
    item = store.get_sign_in_link(sha256(link_id))
    if item is None:
        raise unknown
    if item.get("used_at"):
        raise SignInProblem(409, "This sign-in link has already been used",
                            "Each sign-in link works once. Ask for a new one.")
    if int(item["valid_until"]) <= int(time.time()):
        raise SignInProblem(410, "This sign-in link has expired",
                            f"Sign-in links work for {LINK_SECONDS // 60} minutes. Ask for a "
                            "new one.")
    return item


def _problem(problem: SignInProblem) -> Response:
    return page("staff/problem.html", status=problem.status, title=problem.title,
                message=problem.message, sign_in=True)


def confirm_page(link_id: str) -> Response:
    """What opening the link shows: a button. Only its POST signs in (scanners fetch GETs)."""
    settings = get_settings()
    if secret_for(settings) is None:
        return not_configured()
    try:
        _look_up(_store(settings), link_id)
    except SignInProblem as problem:
        return _problem(problem)
    return page("staff/confirm.html")


def use_link(link_id: str, headers: Any) -> Response:
    settings = get_settings()
    secret = secret_for(settings)
    if secret is None:
        return not_configured()
    if from_another_site(headers, settings):
        return _cross_site()
    store = _store(settings)
    try:
        item = _look_up(store, link_id)
        if not store.use_sign_in_link(sha256(link_id), int(time.time())):
            _look_up(store, link_id)  # says why: used or expired meanwhile
            raise SignInProblem(409, "This sign-in link has already been used",
                                "Each sign-in link works once. Ask for a new one.")
    except SignInProblem as problem:
        return _problem(problem)
    email = str(item["email"])
    if not is_staff(email, settings):
        return _problem(SignInProblem(403, "You cannot sign in",
                                      "This address is no longer on the staff list."))
    session = new_session(email)
    store.put_session(sha256(session.csrf), session.email, session.expires)
    cookie = encode_session(session, secret)
    return redirect("/staff/", headers={"Set-Cookie": set_cookie(cookie, settings)})


def sign_out(request: Any) -> Response:
    session = require_staff(request)
    if isinstance(session, Response):
        return session
    settings = get_settings()
    _store(settings).end_session(sha256(session.csrf))
    return redirect("/staff/sign-in", headers={"Set-Cookie": clear_cookie(settings)})

