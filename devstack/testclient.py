"""chalice.test.Client as a browser on this service's own pages would use it.

The app refuses a change that did not come from its own pages (chalicelib/web/security.py):
a browser says so with `Sec-Fetch-Site: same-origin`. The tests and the benchmarks act as that
browser unless a request says otherwise (a test of another site's form sends its own
`Sec-Fetch-Site` or `Origin`, which is then sent as given).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from chalice.test import Client

BROWSER_HEADERS = {"Sec-Fetch-Site": "same-origin"}


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
            return send(method, path, headers=headers, body=body)

        client.http.request = request  # type: ignore[method-assign]
        yield client
