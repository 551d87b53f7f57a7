"""Reading a Chalice request the same way everywhere: its body as bytes, its query as a dict."""

from __future__ import annotations

from chalice.app import Request


def body_of(request: Request) -> bytes:
    """The request body as sent (Chalice types it str or bytes, by content type)."""
    raw = request.raw_body
    return raw if isinstance(raw, bytes) else (raw or "").encode("utf-8")


def query_of(request: Request) -> dict[str, str]:
    """The query string's parameters (the last of any repeated one)."""
    return dict(request.query_params or {})


def cookie_from(cookie_header: str | None, name: str) -> str | None:
    """The value of cookie `name` in a Cookie header; None when absent or unreadable."""
    from http.cookies import CookieError, SimpleCookie

    if not cookie_header:
        return None
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(cookie_header)
    except CookieError:
        return None
    morsel = cookie.get(name)
    return morsel.value if morsel is not None else None
