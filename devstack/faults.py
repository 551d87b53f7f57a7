"""The fault switch of the local stage: make the app's next matching AWS calls fail as AWS
would, to see what a person sees when DynamoDB, SES or Step Functions fail.

    arm({"operation": "SendRawEmail", "error": "MessageRejected", "times": 1})

arms one fault: the next call of that boto3 operation (by its AWS name, any service the app
calls) fails with that error code, `times` times (each attempt botocore makes counts, so a
throttling fault armed once is retried away by botocore, as on AWS, while one armed six times
outlasts its retries). Optional filters: `recipient` (an email address, ignoring case: only
emails to it fail) and `key` (a table key or a referral's reference: only calls naming it
fail, e.g. `REFERRAL#PHB-ABCD-EFGH`, or `PHB-ABCD-EFGH` for its items, its execution and its
emails' tags). `status` sets the HTTP status (default 400, or 5xx for AWS's server errors).

The error is the response AWS sends, in the service's own protocol (JSON for DynamoDB and Step
Functions, XML for SES), so botocore parses it, retries it or raises the modelled exception
just as it would on AWS. `EndpointConnectionError` fails the connection instead.

Only the app's own clients are hooked (through `chalicelib.adapters.aws.CLIENT_HOOKS`), never a
test's; `/dev/faults` (chalicelib/web/local.py) arms, lists and clears faults over HTTP. This
module is in devstack/, which is never deployed.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

# Error codes AWS answers with a server error, not a 400.
SERVER_ERRORS = {"InternalFailure": 500, "InternalServerError": 500, "ServiceUnavailable": 503,
                 "ServiceException": 500}
CONNECTION_ERROR = "EndpointConnectionError"
NOWHERE = "http://fault-switch.invalid/"


class BadFault(ValueError):
    """A fault that cannot be armed: the message names the field."""


@dataclass
class Fault:
    """One armed fault and how many more calls it fails."""

    operation: str
    error: str
    times: int = 1
    recipient: str = ""
    key: str = ""
    message: str = ""
    status: int = 0
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    failed: int = 0  # calls failed so far

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, operation: str, params: dict[str, Any]) -> bool:
        if operation != self.operation or self.times <= 0:
            return False
        if self.recipient and self.recipient.casefold() not in {
                address.casefold() for address in _recipients(params)}:
            return False
        return not self.key or any(_names(value, self.key) for value in _keys(params))


_lock = threading.Lock()
_armed: list[Fault] = []

FIELDS = {"operation": str, "error": str, "times": int, "recipient": str, "key": str,
          "message": str, "status": int}


def arm(spec: dict[str, Any]) -> Fault:
    """Arm a fault from its JSON form; BadFault naming the field when it is not one."""
    if not isinstance(spec, dict):
        raise BadFault('body: must be a JSON object, e.g. {"operation": "SendRawEmail", '
                       '"error": "MessageRejected"}')
    unknown = sorted(set(spec) - set(FIELDS))
    if unknown:
        raise BadFault(f"{unknown[0]}: not a field of a fault (fields: {', '.join(FIELDS)})")
    values = {name: _typed(name, kind, spec[name]) for name, kind in FIELDS.items()
              if name in spec}
    for name in ("operation", "error"):
        if not str(values.get(name, "")).strip():
            raise BadFault(f"{name}: required, e.g. "
                           + ("SendRawEmail" if name == "operation" else "MessageRejected"))
    if not 1 <= values.get("times", 1) <= 1000:
        raise BadFault("times: must be from 1 to 1000")
    if values.get("status", 0) and not 400 <= values["status"] <= 599:
        raise BadFault("status: must be an HTTP error status, 400 to 599")
    fault = Fault(**values)
    with _lock:
        _armed.append(fault)
    return fault


def _typed(name: str, kind: type, value: Any) -> Any:
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise BadFault(f"{name}: must be a whole number")
    if kind is str and not isinstance(value, str):
        raise BadFault(f"{name}: must be text")
    return value


def armed() -> list[Fault]:
    """Every fault still armed (its `times` not used up), in the order armed."""
    with _lock:
        return [Fault(**f.as_dict()) for f in _armed if f.times > 0]


def clear() -> None:
    with _lock:
        _armed.clear()


def attach(client: Any) -> None:
    """Hook the fault switch into one of the app's boto3 clients."""
    client.meta.events.register("before-parameter-build", _before_call)
    # First, so that it answers before moto's own stub does (under mock_aws).
    client.meta.events.register_first("before-send", _before_send)


def _before_call(model: Any, params: dict[str, Any], context: dict[str, Any],
                 **_: Any) -> None:
    """Note which armed faults this call matches: its parameters (as the app passed them)
    are known here, not when each attempt is sent."""
    with _lock:
        matching = [f.id for f in _armed if f.matches(model.name, params)]
    if matching:
        context["phb_faults"] = matching


def _before_send(request: Any, **_: Any) -> Any:
    """Fail this attempt if a fault it matched has calls left."""
    ids = (getattr(request, "context", None) or {}).get("phb_faults")
    if not ids:
        return None
    with _lock:
        fault = next((f for f in _armed if f.id in ids and f.times > 0), None)
        if fault is None:
            return None
        fault.times -= 1
        fault.failed += 1
    # Every before-send handler runs, and moto's (under mock_aws) would carry the call out
    # although this answer wins: send it nowhere moto listens, so a failed call does nothing.
    url, request.url = request.url, NOWHERE
    if fault.error == CONNECTION_ERROR:
        from botocore.exceptions import EndpointConnectionError

        raise EndpointConnectionError(endpoint_url=url)
    return _response(url, request, fault)


class _Raw:
    """The body of a made-up response, as botocore reads one."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def _response(url: str, request: Any, fault: Fault) -> Any:
    from botocore.awsrequest import AWSResponse

    status = fault.status or SERVER_ERRORS.get(fault.error, 400)
    message = fault.message or f"{fault.error} (armed by the local fault switch)"
    request_id = str(uuid.uuid4())
    content_type = str(request.headers.get("Content-Type", b"") or b"")
    if "json" in content_type:
        body = json.dumps({"__type": fault.error, "message": message}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0",
                   "x-amzn-RequestId": request_id}
    else:  # the query protocol (SES): an XML error document
        kind = "Receiver" if status >= 500 else "Sender"
        body = (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{fault.error}</Code>"
                f"<Message>{_xml(message)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>").encode()
        headers = {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}
    return AWSResponse(url, status, headers, _Raw(body))


def _xml(text: str) -> str:
    from xml.sax.saxutils import escape

    return escape(text)


def _recipients(params: dict[str, Any]) -> list[str]:
    """The addresses an SES call sends to."""
    addresses = list(params.get("Destinations") or [])
    destination = params.get("Destination") or {}
    for part in ("ToAddresses", "CcAddresses", "BccAddresses"):
        addresses += destination.get(part) or []
    return [str(a) for a in addresses]


def _keys(params: dict[str, Any]) -> Iterator[str]:
    """Every table key, execution name or tag value a call names."""
    for name, value in params.items():
        if name in ("Key", "Item"):
            yield from (str(v.get("S", "")) for v in value.values() if isinstance(v, dict))
        elif name == "TransactItems":
            for item in value:
                for action in item.values():
                    yield from _keys({k: v for k, v in action.items() if k in ("Key", "Item")})
        elif name == "ExpressionAttributeValues":
            yield from (str(v.get("S", "")) for v in value.values() if isinstance(v, dict))
        elif name in ("name", "executionArn"):
            yield str(value)
        elif name == "input":
            yield str(json.loads(value).get("referral_id", "")) if value.startswith("{") else ""
        elif name == "Tags":
            yield from (str(tag.get("Value", "")) for tag in value if isinstance(tag, dict))


def _names(value: str, key: str) -> bool:
    """Whether a key value names `key`: itself, or it after a `#` (an item of the referral's
    partition) or a `:` (an execution's ARN)."""
    if not value:
        return False
    return value == key or value.endswith(("#" + key, ":" + key)) or value.startswith(key + "#")
