"""The composition root: the one place that knows which adapters the use cases get.

`services()` builds the store (DynamoDB), the mailer (SES), the workflow client (Step
Functions) and the hand-off to the pathway function (Lambda) once per Lambda container for the
settings in force, and every route and task passes them on. Their boto3 clients are made on
first use, so a page that never calls AWS never loads boto3. Tests call `override` to run the
same use cases on the in-memory adapters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

from chalicelib.config import Settings, get_settings
from chalicelib.domain.ports import Background, Mailer, Store, Workflow


@dataclass(frozen=True)
class Services:
    """What a use case may use: the settings, the store, the mailer, the workflow, and the
    pathway function for work a request hands off."""

    settings: Settings
    store: Store
    mailer: Mailer
    workflow: Workflow
    background: Background


Factory = Callable[[Settings], Services]


@lru_cache(maxsize=4)
def _aws(settings: Settings) -> Services:
    from chalicelib.adapters.aws import LazyClient
    from chalicelib.adapters.background import LambdaBackground
    from chalicelib.adapters.dynamo import DynamoStore
    from chalicelib.adapters.ses import SesMailer
    from chalicelib.adapters.stepfunctions import StepFunctionsWorkflow

    return Services(
        settings=settings,
        store=DynamoStore(LazyClient("dynamodb"), settings.table_name),
        mailer=SesMailer(LazyClient("ses"), settings.sender_email, settings.service_name,
                         settings.ses_configuration_set),
        workflow=StepFunctionsWorkflow(LazyClient("stepfunctions"), settings.state_machine_arn),
        background=LambdaBackground(LazyClient("lambda"), settings.pathway_function),
    )


_factory: Factory = _aws


def services() -> Services:
    """The services for the settings in force now (settings are read once, but tests and the
    local stack change them; each set of settings gets its own services)."""
    return _factory(get_settings())


@contextmanager
def override(factory: Factory) -> Iterator[None]:
    """Use other services (in tests: the in-memory adapters) until the block ends."""
    global _factory
    previous, _factory = _factory, factory
    try:
        yield
    finally:
        _factory = previous


def reset() -> None:
    """Forget the services built so far (the local stack changes AWS endpoints)."""
    _aws.cache_clear()
