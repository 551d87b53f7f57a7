"""chalice.test.Client as a browser on this service's own pages would use it.

The app refuses a change that did not come from its own pages (chalicelib/web/security.py):
a browser says so with `Sec-Fetch-Site: same-origin`. The tests and the benchmarks act as that
browser unless a request says otherwise (a test of another site's form sends its own
`Sec-Fetch-Site` or `Origin`, which is then sent as given).

Each request runs as the APIHandler function and each `lambda_.invoke` as the function named
(its logical id in the template, as chalice names it), so the IAM check (devstack/calls.py)
knows whose calls they make.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from chalice.test import Client
from chalice.utils import to_cfn_resource_name

from devstack import calls

BROWSER_HEADERS = {"Sec-Fetch-Site": "same-origin"}
API_FUNCTION = "APIHandler"  # what chalice's template calls the function serving the API


@contextlib.contextmanager
def browser_client(app: Any, **options: Any) -> Iterator[Client]:
    """A test client whose requests carry what a same-origin browser sends."""
    with Client(app, **options) as client:
        send = client.http.request

        def request(method: str, path: str, headers: dict[str, str] | None = None,
                    body: bytes = b"") -> Any:
            given = {name.lower() for name in headers or {}}
            if not given & {"sec-fetch-site", "origin"}:
                headers = {**BROWSER_HEADERS, **(headers or {})}
            with calls.running(API_FUNCTION):
                return send(method, path, headers=headers, body=body)

        invoke = client.lambda_.invoke

        def invoke_as_function(function_name: str, payload: Any = None) -> Any:
            with calls.running(to_cfn_resource_name(function_name)):
                return invoke(function_name, payload)

        client.http.request = request  # type: ignore[method-assign]
        client.lambda_.invoke = invoke_as_function  # type: ignore[method-assign]
        yield client
