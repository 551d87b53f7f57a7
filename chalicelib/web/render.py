"""Jinja2 rendering for pages and emails. Autoescaping is on for every template: untrusted text
is data, never markup."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.config import Settings
    from chalicelib.domain.records import Email

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATES = ROOT / "templates"
# Templates compiled to Python by `make package` (infra/compile_templates.py): at the Lambda
# zip's root (from vendor/). Parsing and compiling Jinja templates was most of a cold start's
# first page. The local stage always reads the sources, so an edited template shows at once.
COMPILED = ROOT / "compiled_templates"
COMPILED_IN_REPO = ROOT / "vendor" / "compiled_templates"


@lru_cache(maxsize=2)
def environment(compiled: bool = True) -> Any:
    """The Jinja2 environment; `compiled=False` reads every template from source."""
    from jinja2 import (
        BaseLoader,
        ChainableUndefined,
        ChoiceLoader,
        Environment,
        FileSystemLoader,
        ModuleLoader,
        PackageLoader,
        select_autoescape,
    )

    from chalicelib.config import LOCAL_STAGES
    from chalicelib.domain import codes, policy
    from chalicelib.web.filters import FILTERS

    loaders: list[BaseLoader] = []
    deployed = os.environ.get("PHB_STAGE") not in LOCAL_STAGES
    for folder in (COMPILED, COMPILED_IN_REPO):
        if compiled and (deployed or folder == COMPILED) and folder.is_dir():
            loaders.append(ModuleLoader(str(folder)))
            break
    loaders += [FileSystemLoader(TEMPLATES), PackageLoader("nhsuk_frontend_jinja", "templates")]
    env = Environment(
        loader=ChoiceLoader(loaders),
        # Every HTML template escapes. Plain-text email bodies are not HTML, and carry no free
        # text (emails hold only a reference, what is asked and a link); wherever a text body
        # is shown in a page (the local outbox) that page escapes it.
        autoescape=select_autoescape(enabled_extensions=("html", "jinja"),
                                     disabled_extensions=("txt",), default=True),
        # The NHS.UK macros test optional parameters (`params.hint.text`) that may be absent.
        undefined=ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    # Every page can name a code's label and the policy numbers it states.
    env.globals.update(codes=codes, labels=codes.LABELS, choices=codes.choices, policy=policy)
    return env


def render(template: str, **context: Any) -> str:
    return str(environment().get_template(template).render(**context))


SUBJECTS = {"acknowledgement": "PHB referral {reference} received"}


def render_email(kind: str, to: str, settings: Settings, subject: str | None = None,
                 **context: Any) -> Email:
    """An email from `templates/emails/<kind>.html` and `.txt`: only a reference, what is asked
    and a link."""
    from chalicelib.domain.records import Email

    context = {"settings": settings, **context}
    context["subject"] = subject or SUBJECTS[kind].format(**context)
    return Email(kind=kind, to=to, subject=context["subject"],
                 text=render(f"emails/{kind}.txt", **context),
                 html=render(f"emails/{kind}.html", **context),
                 reference=str(context.get("reference") or ""))
