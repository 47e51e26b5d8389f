"""Every route the engine serves is in docs/openapi.yaml, and the document lists no route that is not served."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
# api.py and every route module it delegates to (images_api.py, compose_api.py, ...).
SOURCES = [REPO / "orchestrator/engine/api.py", *sorted((REPO / "orchestrator/engine").glob("*_api.py"))]
CASE = re.compile(r'case "(GET|POST)", \[(.*?)\]')


def _served() -> set[tuple[str, str]]:
    routes: set[tuple[str, str]] = set()
    for source in SOURCES:
        for method, raw in CASE.findall(source.read_text()):
            variants: list[list[str]] = [[]]
            for part in (p.strip() for p in re.split(r",\s*(?![^()]*\))", raw)):
                literal = re.findall(r'"([^"]+)"', part)
                if part.startswith("("):      # ("pause" | "unpause") as verb
                    variants = [[*v, w] for v in variants for w in literal]
                elif literal:
                    variants = [v + literal for v in variants]
                else:                           # a captured path segment
                    variants = [[*v, "{" + part + "}"] for v in variants]
            routes |= {(method.lower(), "/" + "/".join(v)) for v in variants}
    return routes


def test_openapi_document_matches_the_routes() -> None:
    document = yaml.safe_load((REPO / "docs/openapi.yaml").read_text())
    documented = {(method, path) for path, ops in document["paths"].items() for method in ops
                  if method in ("get", "post")}
    served = _served()
    assert len(served) > 20
    assert served == documented


def test_every_served_route_has_its_checked_schema() -> None:
    """The server refuses a request before any route runs unless its table (api_schema.ROUTES)
    knows the route and the models of its body and query: a route served must be in it."""
    from orchestrator.engine.api_schema import ROUTES

    table = {(r.method.lower(), "/" + "/".join("{" + s.split("{")[1] if s.startswith("{") else s
                                               for s in r.segments)) for r in ROUTES}
    normalize = re.compile(r"\{[^}]+\}")
    assert {(m, normalize.sub("{}", p)) for m, p in table} == {(m, normalize.sub("{}", p)) for m, p in _served()}
