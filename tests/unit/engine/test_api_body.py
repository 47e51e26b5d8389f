"""A request body is parsed once (api_schema.check_body): by the route's model where it has one
(it was parsed by json.loads first, then a second time by model_validate_json), and bad bodies
are refused with the same words as before."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orchestrator.engine import api_schema
from orchestrator.engine.api_schema import RequestRefused, check_body, route_for


def _stop() -> api_schema.Route:
    return route_for("POST", ["v1", "projects", "demo", "stop"])


def test_a_body_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parses: list[str] = []
    loads = json.loads

    def counted_loads(raw: Any, **kwargs: Any) -> Any:
        parses.append("json.loads")
        return loads(raw, **kwargs)

    model = _stop().body
    assert model is not None
    validate_json = model.model_validate_json

    def counted_validate_json(raw: Any, **kwargs: Any) -> Any:
        parses.append("model_validate_json")
        return validate_json(raw, **kwargs)

    monkeypatch.setattr(api_schema.json, "loads", counted_loads)
    monkeypatch.setattr(model, "model_validate_json", counted_validate_json)
    body = check_body(_stop(), b'{"services": ["web"], "timeout": 5, "extra": {"kept": [1]}}')
    assert body == {"services": ["web"], "timeout": 5.0, "extra": {"kept": [1]}}
    assert parses == ["model_validate_json"]
    parses.clear()
    assert check_body(route_for("POST", ["v1", "engine", "shutdown"]), b'{"a": 1}') == {"a": 1}
    assert parses == ["json.loads"]  # a route with no model: json.loads alone


@pytest.mark.parametrize(("raw", "problem"), [
    (b'{"timeout": "5"}', "body.timeout: Input should be a valid number"),  # strict: a string is no number
    (b'{"services": "web"}', "body.services: Input should be a valid array"),
    (b'{"services": [1]}', "body.services.0: Input should be a valid string"),
    (b'{"timeout": -1}', "body.timeout: Input should be greater than or equal to 0"),
    (b'[1]', "the body must be a JSON object, not list"),
    (b'{"timeout": ', "the body is not JSON in UTF-8"),
    (b'\xff{}', "the body is not JSON in UTF-8"),
])
def test_a_body_that_does_not_fit_is_refused_naming_the_field(raw: bytes, problem: str) -> None:
    with pytest.raises(RequestRefused) as refused:
        check_body(_stop(), raw)
    assert refused.value.status == 400 and problem in str(refused.value), str(refused.value)


def test_a_body_is_strict_as_its_json_was() -> None:
    kill = route_for("POST", ["v1", "projects", "demo", "kill"])
    assert check_body(kill, b'{"signal": "TERM"}') == {"signal": "TERM"}
    assert check_body(kill, b'{"signal": 15}') == {"signal": 15}
    with pytest.raises(RequestRefused):
        check_body(kill, b'{"signal": true}')
    assert check_body(_stop(), b"") == {}  # no body: the model's defaults, nothing sent
