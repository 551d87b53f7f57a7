"""Shaping HTTP responses: pages, redirects, JSON and its errors, static files, security
headers."""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any

from chalice.app import Response

from chalicelib.domain.errors import FieldError, errors_by_field

STATIC = Path(__file__).resolve().parent.parent.parent / "static"

# The security headers (CSP, HSTS and the rest) are added to every response by
# chalicelib/web/security.py.


def page(
    template: str, status: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> Response:
    """A server-rendered page, never cached."""
    from chalicelib.config import get_settings
    from chalicelib.web.render import render

    settings = get_settings()
    body = render(template, settings=settings, base=settings.base_path, **context)
    return Response(
        body=body,
        status_code=status,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-store",
            **(headers or {}),
        },
    )


def form_context(errors: list[FieldError] | None = None,
                 values: dict[str, str] | None = None) -> dict[str, Any]:
    """What every page with a form needs: the errors, each by its field, and what was typed."""
    errors = errors or []
    return {"errors": errors, "error_for": errors_by_field(errors), "values": values or {}}


def problem_page(title: str, message: str, status: int) -> Response:
    """A plain page saying what went wrong and what to do: never a stack trace."""
    return page("error.html", status=status, title=title, message=message)


def redirect(location: str, headers: dict[str, str] | None = None) -> Response:
    """303 See Other to a path of this app (the base path is added)."""
    from chalicelib.config import get_settings

    location = get_settings().base_path + location
    return Response(
        body="",
        status_code=303,
        headers={"Location": location, "Cache-Control": "no-store", **(headers or {})},
    )


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(body),
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def json_errors(errors: list[dict[str, str]], status: int) -> Response:
    return json_response({"errors": errors}, status)


def download(body: str, content_type: str, filename: str) -> Response:
    """A file to save (an export, a CSV): never cached, never sniffed as something else."""
    return Response(body=body, status_code=200, headers={
        "Content-Type": content_type, "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


def static_file(name: str) -> Response:
    path = (STATIC / name).resolve()
    if STATIC not in path.parents or not path.is_file():
        return Response(body="Not found", status_code=404, headers={"Content-Type": "text/plain"})
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Response(
        body=path.read_text(encoding="utf-8"),
        status_code=200,
        headers={
            "Content-Type": f"{content_type}; charset=utf-8",
            "Cache-Control": "public, max-age=86400",
            "X-Content-Type-Options": "nosniff",
        },
    )
