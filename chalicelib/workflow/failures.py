"""Naming AWS failures for the state machine: transient ones are retried with backoff (the
ASL retries `TransientError`), permanent ones are caught and mark the referral for an advisor."""

from __future__ import annotations


class UnknownTask(Exception):
    pass


class ExecutionTooOld(Exception):
    """The wait ahead would outlast the execution's maximum age (Step Functions' year)."""


class Resuming(Exception):
    """The first task of a resumed execution: it goes to where the referral is instead."""


class StepFailed(Exception):
    """A task failed for a reason of its own, not AWS's (its message says which task)."""


class TransientError(Exception):
    """An AWS error worth retrying: the state machine retries `TransientError` with backoff."""


class AWSError(Exception):
    """A permanent AWS error; raised as a subclass named after the AWS error code, so the
    execution history (and any Catch) shows e.g. `MessageRejected`."""


TRANSIENT_CODES = {
    "Throttling", "ThrottlingException", "ProvisionedThroughputExceededException",
    "RequestLimitExceeded", "TooManyRequestsException", "ServiceUnavailable",
    "InternalFailure", "InternalServerError", "TransactionConflictException",
}


def classify(exc: Exception) -> Exception:
    """The exception the state machine should see for `exc` (itself when it is not AWS's)."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(exc, (ConnectionError, HTTPClientError)):
        return TransientError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
        # The code and the operation, never AWS's message: SES's names the address it refused,
        # and whatever this becomes can reach an execution's history or a log.
        said = f"{code} calling {exc.operation_name}"
        if code in TRANSIENT_CODES or status >= 500:
            return TransientError(said)
        named: type[AWSError] = type(code if code.isidentifier() else "AWSError", (AWSError,), {})
        return named(said)
    return exc
