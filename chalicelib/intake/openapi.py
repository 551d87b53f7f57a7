"""The OpenAPI 3.1 document of the JSON API, generated from the pydantic models."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "required": ["errors"],
    "additionalProperties": False,
    "properties": {
        "errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "additionalProperties": False,
                "properties": {
                    "field": {
                        "type": "string",
                        "description": "Dotted path of the field, e.g. person.nhs_number; "
                        "empty for the body as a whole",
                    },
                    "message": {"type": "string"},
                },
            },
        }
    },
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}},
    }


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    from chalicelib.domain.referral import Referral

    schema = Referral.model_json_schema(ref_template="#/components/schemas/{model}")
    components: dict[str, Any] = schema.pop("$defs", {})
    components["Referral"] = schema
    components["Errors"] = ERROR_SCHEMA
    reference = {"type": "string",
                 "pattern": "^PHB-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}$"}
    components["Status"] = {
        "type": "object",
        "required": ["reference", "status"],
        "properties": {"reference": reference, "status": {"type": "string"}},
    }
    components["Created"] = {
        "type": "object",
        "required": ["reference", "status", "warnings"],
        "properties": {
            "reference": reference,
            "status": {"type": "string"},
            "warnings": {
                **ERROR_SCHEMA["properties"]["errors"],  # type: ignore[index]
                "minItems": 0,
                "description": "Answers accepted but worth a second look, e.g. a goal more "
                "than 3 months away",
            },
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "PHB Pathway referrals API",
            "version": "1.0.0",
            "description": "Referrals for Personal Health Budgets for mental health recovery. "
            "Money is integer pence; dates are YYYY-MM-DD; unknown fields are rejected.",
        },
        "paths": {
            "/api/referrals": {
                "post": {
                    "operationId": "createReferral",
                    "summary": "Submit a referral",
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": "Retrying with the same key and body returns the "
                            "same referral; the same key with another body is a 409.",
                            "schema": {"type": "string", "minLength": 1, "maxLength": 255,
                                       "pattern": "^[\\x21-\\x7e]+$"},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Referral"}
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "Stored and its workflow started; a replay of an "
                            "earlier request with the same Idempotency-Key and body returns the "
                            "same referral again, with the header Idempotent-Replayed: true",
                            "headers": {
                                "Location": {"schema": {"type": "string"}, "required": True,
                                             "description": "The referral's status URL"},
                                "Idempotent-Replayed": {
                                    "schema": {"type": "string", "enum": ["true"]},
                                    "description": "Present when this is a replay of an "
                                    "earlier request with the same Idempotency-Key",
                                },
                            },
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Created"}
                                }
                            },
                        },
                        "400": _error("The body is not valid JSON, or the Idempotency-Key "
                                      "header is malformed"),
                        "409": _error("The Idempotency-Key was used with a different body"),
                        "413": _error("The body is larger than 64 KB"),
                        "415": _error("The Content-Type is not application/json"),
                        "422": _error("Fields failed validation; each is named"),
                    },
                }
            },
            "/api/referrals/{reference}": {
                "get": {
                    "operationId": "getReferralStatus",
                    "summary": "A referral's status (no personal data)",
                    "parameters": [
                        {"name": "reference", "in": "path", "required": True,
                         "schema": {"type": "string", "maxLength": 40}}
                    ],
                    "responses": {
                        "200": {
                            "description": "The referral's status",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Status"}
                                }
                            },
                        },
                        "404": _error("No referral has that reference"),
                    },
                }
            },
        },
        "components": {"schemas": components},
    }
