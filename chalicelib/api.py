"""The JSON API: `POST /api/referrals` and the status of one referral."""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

from chalice import Response

from chalicelib import aws, intake
from chalicelib.config import get_settings
from chalicelib.referral import validate_referral, warnings
from chalicelib.store import IdempotencyConflict, ReferralStore, find_referral
from chalicelib.web import json_errors, json_response

MAX_BODY_BYTES = 64 * 1024
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def _is_json(content_type: str | None) -> bool:
    """application/json, with any parameters (charset); a body without a Content-Type is taken
    as JSON, as Chalice and API Gateway always have."""
    if content_type is None:
        return True
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def create_referral(body: bytes, idempotency_key: str | None,
                    content_type: str | None = None) -> Response:
    if len(body) > MAX_BODY_BYTES:
        return json_errors(
            [{"field": "", "message": f"The request body must be {MAX_BODY_BYTES // 1024} KB "
                                      "or smaller"}],
            413,
        )
    if not _is_json(content_type):
        return json_errors(
            [{"field": "Content-Type",
              "message": "The request body must be JSON, sent with Content-Type: "
                         "application/json"}],
            415,
        )
    if idempotency_key is not None and not _KEY.fullmatch(idempotency_key):
        return json_errors(
            [{"field": "Idempotency-Key",
              "message": "The Idempotency-Key header must be 1 to 255 visible ASCII characters"}],
            400,
        )
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return json_errors(
            [{"field": "", "message": f"The request body is not valid JSON: {exc}"}], 400
        )
    except RecursionError:  # e.g. 2 KB of "[[[[…": the parser gives up, and so do we
        return json_errors(
            [{"field": "", "message": "The request body is not valid JSON: it is nested too "
                                      "deeply"}], 400
        )
    if not isinstance(data, dict):
        return json_errors([{"field": "", "message": "The request body must be a JSON object"}],
                           422)
    settings = get_settings()
    result = validate_referral(data, settings)
    if isinstance(result, list):
        return json_errors([error.as_dict() for error in result], 422)
    try:
        created = intake.submit(result, settings, idempotency_key)
    except IdempotencyConflict:
        return json_errors(
            [{"field": "Idempotency-Key",
              "message": "This Idempotency-Key was used with a different referral: use a new "
                         "key for a new referral"}],
            409,
        )
    headers = {"Location": f"{settings.base_path}/api/referrals/{created.reference}"}
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response({"reference": created.reference, "status": created.status,
                          "warnings": [w.as_dict() for w in warnings(result)]}, 201, headers)


def referral_status(reference: str) -> Response:
    # Chalice passes path parameters as sent, percent-encoded: "PHB%202222%202222" is the
    # reference typed with spaces, which find_referral forgives.
    stored = find_referral(ReferralStore(aws.client("dynamodb"), get_settings().table_name),
                           unquote(reference))
    if stored is None:
        return json_errors([{"field": "reference", "message": "No referral has that reference"}],
                           404)
    return json_response({"reference": stored.reference, "status": stored.status})
