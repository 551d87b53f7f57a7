"""What a person sees when AWS fails under their request: a plain page (or, for the API, a JSON
error) that says what to do, never Chalice's bare 500. The error's code and where it happened
go to the log, never its text (SES names the address it refused) or the request's body.

And what they see when the function is not set up to serve at all (`refuse_routes`): a plain
503, written without the settings, templates or AWS, since those are what cannot be trusted.

Everything a request changes is one conditional write (or one transaction), so a request that
fails part way leaves either nothing or the whole change: trying again is safe, and a link
already used says so.
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

BUSY = ("The service could not finish your request just now, because a part of it was busy or "
        "could not be reached.")
AGAIN = ("Nothing is lost. Try again in a few minutes: if what you did was recorded, the page "
         "will say so.")


def guard_routes(app: Any) -> None:
    """Wrap every route's view so that a request AWS fails under answers plainly. (Chalice
    catches a view's exception itself, answers its bare 500 and logs the exception's text,
    before any middleware could see it.)"""
    for path, methods in app.routes.items():
        for entry in methods.values():
            entry.view_function = _guarded(entry.view_function, path)


UNAVAILABLE_TITLE = "Sorry, the service is unavailable"
UNAVAILABLE = ("The service is not set up correctly, so it cannot take requests just now and "
               "nothing you send will be recorded. Try again later, or contact the team that "
               "runs it.")
# Plain HTML: no template, no stylesheet, no base path (each needs the settings that failed).
UNAVAILABLE_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{UNAVAILABLE_TITLE}</title></head>
<body><main><h1>{UNAVAILABLE_TITLE}</h1><p>{UNAVAILABLE}</p></main></body>
</html>
"""


def refuse_routes(app: Any, problem: str) -> None:
    """Make every route answer a plain 503 and log why: for a function whose configuration
    says it must not serve (`chalicelib.config.stage_problem`). Logged once now (the cold
    start) and with each request refused, so the reason is next to every 503 in the log."""
    log.critical("Refusing to serve: %s", problem)
    for path, methods in app.routes.items():
        for entry in methods.values():
            entry.view_function = _refusing(path, problem)


def _refusing(path: str, problem: str) -> Callable[..., Any]:
    def refused(*args: Any, **kwargs: Any) -> Any:
        from chalice.app import Response

        from chalicelib.web.responses import json_response

        log.error("%s refused: %s", path, problem)
        if path.startswith("/api/"):
            return json_response({"errors": [{"field": "", "message": UNAVAILABLE}]},
                                 status=503, headers={"Cache-Control": "no-store"})
        return Response(body=UNAVAILABLE_PAGE, status_code=503,
                        # The security headers are added by chalicelib/web/security.py.
                        headers={"Content-Type": "text/html; charset=utf-8",
                                 "Cache-Control": "no-store"})

    return refused


def _guarded(view: Callable[..., Any], path: str) -> Callable[..., Any]:
    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except Exception as exc:
            return _plain_answer(exc, path)

    return guarded


def _plain_answer(exc: Exception, path: str) -> Any:
    """A 503 saying what to do; the error's code and where it happened to the log."""
    from chalicelib.web.responses import json_response, problem_page
    from chalicelib.workflow.recovery import code_of

    code = code_of(exc)
    log.error("%s failed: %s (%s)\n%s", path, code, type(exc).__name__,
              "".join(traceback.format_tb(exc.__traceback__)))
    headers = {"Retry-After": "60"}
    if path.startswith("/api/"):
        return json_response({"errors": [{"field": "", "message": f"{BUSY} {AGAIN}"}]},
                             status=503, headers=headers)
    answer = problem_page("Sorry, there is a problem with the service", f"{BUSY} {AGAIN}", 503)
    answer.headers.update(headers)
    return answer
