"""Public traffic can never take all of the account's Lambda concurrency from the workflow: the
API stage is throttled by two stack parameters, and nothing reserves concurrency (which fails
on a new account whose limit is 10). Read from the merge template itself, so this runs without
a package; tests/test_package.py checks the same of the packaged template. Before this,
nothing throttled anything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "resources.json"


def template() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    return loaded


def test_every_method_of_the_api_is_throttled_by_the_stack_parameters() -> None:
    loaded = template()
    [setting] = loaded["Resources"]["RestAPI"]["Properties"]["MethodSettings"]
    assert (setting["ResourcePath"], setting["HttpMethod"]) == ("/*", "*")
    assert setting["ThrottlingRateLimit"] == {"Ref": "ApiRateLimit"}
    assert setting["ThrottlingBurstLimit"] == {"Ref": "ApiBurstLimit"}
    defaults = {name: loaded["Parameters"][name]["Default"]
                for name in ("ApiRateLimit", "ApiBurstLimit")}
    assert defaults == {"ApiRateLimit": 20, "ApiBurstLimit": 40}


def test_no_function_reserves_concurrency() -> None:
    assert "ReservedConcurrentExecutions" not in TEMPLATE.read_text(encoding="utf-8")
    config = (TEMPLATE.parents[1] / ".chalice" / "config.json").read_text(encoding="utf-8")
    assert "reserved_concurrency" not in config
