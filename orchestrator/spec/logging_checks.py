"""A service's `logging:` as pyorch applies it, and the values refused with file:line while loading.

pyorch keeps logs itself, in files it rotates (runtime/container/logfile.py), for the `json-file`
and `local` drivers; `none` keeps nothing. Every container is capped, also without `logging:` and
with `json-file` (whose Docker default grows without bound, moby/moby#8911): unless the file says
otherwise, 20 MiB per file and 5 files, as Docker's `local` driver; `max-size: -1` lifts the cap.
Options are Docker's: a malformed size or count, or an option the driver does not have, is an
error as it is with Docker; a driver pyorch does not have (syslog, journald, gelf, …) is warned
about and the default `local` logging applies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from orchestrator.spec.errors import Location, SchemaError
from orchestrator.spec.model import Logging, Project
from orchestrator.spec.yamlsource import Path_

Locate = Callable[[Path_], Location]

DRIVERS = ("json-file", "local", "none")
DEFAULT_DRIVER = "local"
DEFAULT_MAX_SIZE = 20 << 20
DEFAULT_MAX_FILE = 5
# Options Docker accepts for every driver (handled by the daemon, not the driver).
_GENERIC = frozenset({"mode", "max-buffer-size"})
_OPTIONS = {
    "json-file": frozenset({"max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag"}),
    "local": frozenset({"max-size", "max-file", "compress"}),
    "none": frozenset(),
}
_APPLIED = frozenset({"max-size", "max-file", "compress"})
# Docker's units.RAMInBytes: binary multiples, an optional "i" and "b".
_SIZE = re.compile(r"^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_MULTIPLE = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


@dataclass(frozen=True)
class LogOptions:
    """What a container's log will be: the driver and its rotation."""

    driver: str = DEFAULT_DRIVER
    max_size: int = DEFAULT_MAX_SIZE  # bytes per file before it rotates; 0: no limit
    max_files: int = DEFAULT_MAX_FILE  # files kept, the current one included
    compress: bool = True  # rotated files are gzipped


class BadLogOption(ValueError):
    def __init__(self, option: str | None, message: str) -> None:
        super().__init__(message)
        self.option = option


def log_options(logging: Logging | None) -> LogOptions:
    """The settings for a service's `logging:` (None: pyorch's default); raises BadLogOption."""
    if logging is None or logging.driver not in (None, *DRIVERS):
        return LogOptions()
    driver = logging.driver or DEFAULT_DRIVER
    options = {k: v for k, v in (logging.options or {}).items() if v is not None}
    unknown = sorted(set(options) - _OPTIONS[driver] - _GENERIC)
    if unknown:
        raise BadLogOption(unknown[0], f"unknown log opt {unknown[0]!r} for {driver} log driver")
    if driver == "none":
        return LogOptions(driver="none", max_size=0, max_files=1, compress=False)
    max_size = DEFAULT_MAX_SIZE
    if "max-size" in options:
        max_size = 0 if options["max-size"].strip() == "-1" else _size(options["max-size"])
    max_files = DEFAULT_MAX_FILE
    if "max-file" in options:
        try:
            max_files = int(options["max-file"].strip())
        except ValueError:
            raise BadLogOption("max-file", f"max-file must be a number, not {options['max-file']!r}") from None
        if max_files < 1:
            raise BadLogOption("max-file", f"max-file must be 1 or more, not {max_files}")
    compress = driver == "local"  # Docker's defaults: local compresses, json-file does not
    if "compress" in options:
        value = options["compress"].strip()
        if value not in _TRUE | _FALSE:
            raise BadLogOption("compress", f"compress must be true or false, not {options['compress']!r}")
        compress = value in _TRUE
    return LogOptions(driver=driver, max_size=max_size, max_files=max_files, compress=compress)


def _size(text: str) -> int:
    match = _SIZE.match(text.strip())
    if match is None:
        raise BadLogOption("max-size", f"max-size must be a size such as 10m or 1g, not {text!r}")
    size = int(float(match.group(1)) * _MULTIPLE[(match.group(2) or "").lower()])
    if size <= 0:
        raise BadLogOption("max-size", f"max-size must be a positive size, not {text!r}")
    return size


def check_logging(project: Project, locate: Locate, warnings: list[str]) -> None:
    """Refuse malformed `logging:` options (file:line); warn once per driver pyorch does not have,
    and per option it accepts without applying."""
    for name, service in project.services.items():
        logging = service.logging
        if logging is None:
            continue
        if logging.driver not in (None, *DRIVERS):
            warnings.append(f"service {name}: logging driver {logging.driver!r} is not supported by pyorch; "
                            f"its output is kept in pyorch's own rotated log ({DEFAULT_DRIVER})")
            continue
        try:
            log_options(logging)
        except BadLogOption as exc:
            here = ("services", name, "logging", "options", exc.option) if exc.option else ("services", name, "logging")
            raise SchemaError(f"service {name!r}: {exc}", locate(here)) from None
        ignored = sorted(set(logging.options or {}) - _APPLIED)
        if ignored:
            warnings.append(f"service {name}: logging options {', '.join(ignored)} are accepted but not applied")
