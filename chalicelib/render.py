"""Jinja2 rendering for pages and emails. Autoescaping is on for every template: untrusted text
is data, never markup."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@lru_cache(maxsize=1)
def environment() -> Any:
    from jinja2 import (
        ChainableUndefined,
        ChoiceLoader,
        Environment,
        FileSystemLoader,
        PackageLoader,
        select_autoescape,
    )

    from chalicelib import filters

    env = Environment(
        loader=ChoiceLoader(
            [FileSystemLoader(TEMPLATES), PackageLoader("nhsuk_frontend_jinja", "templates")]
        ),
        # Every HTML template escapes. Plain-text email bodies are not HTML, and carry no free
        # text (emails hold only a reference, what is asked and a link); wherever a text body
        # is shown in a page (the local outbox) that page escapes it.
        autoescape=select_autoescape(enabled_extensions=("html", "jinja"), default=True),
        # The NHS.UK macros test optional parameters (`params.hint.text`) that may be absent.
        undefined=ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(filters.FILTERS)
    return env


def render(template: str, **context: Any) -> str:
    return str(environment().get_template(template).render(**context))
