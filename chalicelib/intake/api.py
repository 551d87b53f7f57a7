"""The JSON API: `POST /api/referrals` and the status of one referral."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING
from urllib.parse import unquote

from chalice.app import Response

from chalicelib.domain.policy import MAX_BODY_BYTES
from chalicelib.web.responses import json_errors, json_response

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def _is_json(content_type: str | None) -> bool:
    """application/json, with any parameters (charset); a body without a Content-Type is taken
    as JSON, as Chalice and API Gateway always have."""
    if content_type is None:
        return True
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def _error(field: str, message: str, status: int) -> Response:
    return json_errors([{"field": field, "message": message}], status)


def _refused(body: bytes, idempotency_key: str | None,
             content_type: str | None) -> Response | None:
    """The answer to a request refused before its body is read as a referral, if it is."""
    if len(body) > MAX_BODY_BYTES:
        return _error("", f"The request body must be {MAX_BODY_BYTES // 1024} KB or smaller",
                      413)
    if not _is_json(content_type):
        return _error("Content-Type", "The request body must be JSON, sent with Content-Type: "
                                      "application/json", 415)
    if idempotency_key is not None and not _KEY.fullmatch(idempotency_key):
        return _error("Idempotency-Key",
                      "The Idempotency-Key header must be 1 to 255 visible ASCII characters", 400)
    return None


def create_referral(svc: Services, body: bytes, idempotency_key: str | None,
                    content_type: str | None = None) -> Response:
    refused = _refused(body, idempotency_key, content_type)
    if refused is not None:
        return refused
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return _error("", f"The request body is not valid JSON: {exc}", 400)
    except RecursionError:  # e.g. 2 KB of "[[[[…": the parser gives up, and so do we
        return _error("", "The request body is not valid JSON: it is nested too deeply", 400)
    if not isinstance(data, dict):
        return _error("", "The request body must be a JSON object", 422)
    from chalicelib.domain.errors import IdempotencyConflict
    from chalicelib.domain.validation import validate_referral, warnings
    from chalicelib.intake import submission
    from chalicelib.intake.decision import decide, manager_needed

    result = validate_referral(data, svc.settings)
    if not isinstance(result, list):
        # The person's other PHBs count towards the tier: they may need the manager too. A
        # replay is not another PHB of its own: it is answered as it was the first time.
        replayed = svc.store.referrals.replay_of(idempotency_key) if idempotency_key else None
        result = manager_needed(decide(svc, result, replayed), result) or result
    if isinstance(result, list):
        return json_errors([error.as_dict() for error in result], 422)
    try:
        created = submission.submit(svc, result, idempotency_key)
    except IdempotencyConflict:
        return _error("Idempotency-Key", "This Idempotency-Key was used with a different "
                                         "referral: use a new key for a new referral", 409)
    headers = {"Location": f"{svc.settings.base_path}/api/referrals/{created.reference}"}
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response({"reference": created.reference, "status": created.status,
                          "warnings": [w.as_dict() for w in warnings(result)]}, 201, headers)


def referral_status(svc: Services, reference: str) -> Response:
    # Chalice passes path parameters as sent, percent-encoded: "PHB%202222%202222" is the
    # reference typed with spaces, which `find` forgives.
    stored = svc.store.referrals.find(unquote(reference))
    if stored is None:
        return _error("reference", "No referral has that reference", 404)
    return json_response({"reference": stored.reference, "status": stored.status})
