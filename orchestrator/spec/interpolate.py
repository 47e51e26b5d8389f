"""Phase 2: substitute variables in every string value of one file (keys are never touched)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.spec.errors import InterpolationError
from orchestrator.spec.template import MissingVariableError, Substitution, TemplateSyntaxError
from orchestrator.spec.yamlsource import Override, Path_, Reset, SourceMap, Timestamp


def interpolate_tree(data: Any, environment: Mapping[str, str], source: SourceMap,
                     warnings: list[str]) -> Any:
    """Return a copy of `data` with variables substituted; unset variables are warned about once."""
    substitution = Substitution(environment)
    result = _walk(data, (), substitution, source)
    for name in dict.fromkeys(substitution.unset):
        message = f'The "{name}" variable is not set. Defaulting to a blank string.'
        if message not in warnings:
            warnings.append(message)
    return result


def _walk(value: Any, path: Path_, substitution: Substitution, source: SourceMap) -> Any:
    if isinstance(value, Timestamp):  # holds no variable; kept as what it is for the checks after
        return value
    if isinstance(value, str):
        try:
            return substitution.expand(value)
        except MissingVariableError as exc:
            raise InterpolationError(str(exc), source.locate(path)) from None
        except TemplateSyntaxError as exc:
            dotted = ".".join(str(p) for p in path)
            raise InterpolationError(
                f"invalid interpolation format for {dotted}: {value!r} ({exc}); "
                "you may need to escape any $ with another $", source.locate(path)) from None
    if isinstance(value, dict):
        return {k: _walk(v, (*path, k), substitution, source) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, (*path, i), substitution, source) for i, v in enumerate(value)]
    if isinstance(value, Override):
        return Override(_walk(value.value, path, substitution, source))
    if isinstance(value, Reset):
        return value
    return value
