"""Schema-driven fuzzing of the engine API (issue 20): requests generated from docs/openapi.yaml
with hypothesis — values that fit the documented schema, values of the wrong type, malformed
and non-UTF-8 bodies — sent over the unix socket. No answer may be a 5xx, and the engine must
still answer afterwards.

Left out are the operations whose side effects reach beyond this test's instance or take
minutes: registry traffic (pull, push, login: a random name would be looked up), builds and
bootstraps (the Debian mirror), `save` (writes wherever `output` says), `import` (reads a whole
directory tree), the prunes of the image store and build cache (shared by the test session), and
the engine's own shutdown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.layout import HostLayout
from tests.helpers import engine_raw, pyorch

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
DOCUMENT = yaml.safe_load((REPO / "docs/openapi.yaml").read_text())
EXCLUDED = {
    ("post", "/v1/engine/shutdown"), ("post", "/v1/images/bootstrap"), ("post", "/v1/images/pull"),
    ("post", "/v1/images/push"), ("post", "/v1/registry/login"), ("post", "/v1/images/build"),
    ("post", "/v1/projects/build"), ("post", "/v1/images/save"), ("post", "/v1/images/import"),
    ("post", "/v1/images/prune"), ("post", "/v1/builder/prune"), ("post", "/v1/images/load"),
}
OPERATIONS = sorted((method, path) for path, ops in DOCUMENT["paths"].items() for method in ops
                    if method in ("get", "post") and (method, path) not in EXCLUDED)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                    | st.text(max_size=12), lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)


def resolve(node: Any) -> Any:
    if isinstance(node, dict) and "$ref" in node:
        target: Any = DOCUMENT
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return resolve(target)
    return node


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values the schema describes (a subset of JSON Schema: what docs/openapi.yaml uses)."""
    schema = resolve(schema)
    if "enum" in schema:
        base: st.SearchStrategy[Any] = st.sampled_from(schema["enum"])
    else:
        kind = schema.get("type")
        if kind == "object":
            properties = {k: from_schema(v) for k, v in (schema.get("properties") or {}).items()}
            required = [k for k in schema.get("required", []) if k in properties]
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                base = st.dictionaries(st.text(max_size=8), from_schema(extra), max_size=3)
            else:
                base = st.fixed_dictionaries({k: properties[k] for k in required},
                                             optional={k: v for k, v in properties.items() if k not in required})
        elif kind == "array":
            base = st.lists(from_schema(schema.get("items") or {}), max_size=3)
        elif kind == "string":
            base = st.text(max_size=16)
        elif kind == "integer":
            base = st.integers(min_value=schema.get("minimum", -(2 ** 40)), max_value=2 ** 40)
        elif kind == "number":
            base = st.floats(allow_nan=False, allow_infinity=False, width=32) | st.integers(-1000, 1000)
        elif kind == "boolean":
            base = st.booleans()
        else:
            base = JSON
    return st.none() | base if schema.get("nullable") else base


def body_of(operation: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """A body: as documented, with a property of the wrong type, any JSON, or bytes that are no JSON."""
    content = (resolve(operation.get("requestBody") or {}).get("content") or {}).get("application/json") or {}
    schema = resolve(content.get("schema") or {"type": "object"})
    documented = from_schema(schema)
    mistyped = documented.flatmap(lambda value: st.builds(
        lambda key, wrong: {**value, key: wrong} if isinstance(value, dict) else wrong,
        st.sampled_from(sorted(schema.get("properties") or {"x": {}})), JSON))
    as_json = st.one_of(documented, mistyped, JSON).map(lambda v: json.dumps(v).encode())
    return st.one_of(as_json, as_json, st.binary(max_size=40), st.just(b"{\"a\": \xff\xfe}"))


def query_of(operation: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    params = [resolve(p) for p in operation.get("parameters") or []]
    fields = {p["name"]: from_schema(p.get("schema") or {}) | st.text(max_size=6)
              for p in params if p["in"] == "query"}
    return st.fixed_dictionaries({}, optional=fields)


def send(layout: HostLayout, method: str, path: str, body: bytes) -> int:
    """The status of the reply (streams: their headers are enough)."""
    request = (f"{method.upper()} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    return engine_raw(layout, request, timeout=60)[0]


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, bytes]:
    method, template = draw(st.sampled_from(OPERATIONS))
    operation = DOCUMENT["paths"][template][method]
    path = template
    for name in ("name", "cid"):
        path = path.replace("{" + name + "}", quote(draw(st.sampled_from(["fuzz", "x"]) | st.text(max_size=8)),
                                                    safe=""))
    query = draw(query_of(operation))
    if query:
        path += "?" + urlencode({k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in query.items()
                                 if v is not None}, doseq=True)
    body = draw(body_of(operation)) if method == "post" else b""
    return method, path, body


def test_no_request_makes_the_engine_fail(layout: HostLayout) -> None:
    pyorch(layout, "ls")  # the engine, in this test's instance
    seen: list[tuple[str, str, int]] = []

    @settings(max_examples=400, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(requests())
    def fuzz(request: tuple[str, str, bytes]) -> None:
        method, path, body = request
        status = send(layout, method, path, body)
        seen.append((method, path, status))
        assert status < 500, f"{method.upper()} {path} {body[:200]!r} → {status}"

    try:
        fuzz()
        assert send(layout, "get", "/v1/ping", b"") == 200
        assert len({(m, p.split("?")[0]) for m, p, _ in seen}) > 20  # it went round the API
        log = (layout.run_root / "engine.log").read_text()
        assert "Traceback" not in log, log[log.index("Traceback") - 200:][:3000]
    finally:
        pyorch(layout, "engine", "stop", check=False)
