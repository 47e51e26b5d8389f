"""`logging:` as pyorch applies it: Docker's options, a cap by default, errors with file:line."""

from __future__ import annotations

import pytest

from orchestrator.spec.errors import SchemaError
from orchestrator.spec.logging_checks import DEFAULT_MAX_FILE, DEFAULT_MAX_SIZE, BadLogOption, LogOptions, log_options
from orchestrator.spec.model import Logging
from tests.unit.spec.conftest import Load, Write


def test_no_logging_is_capped_like_dockers_local_driver() -> None:
    assert log_options(None) == LogOptions("local", DEFAULT_MAX_SIZE, DEFAULT_MAX_FILE, True)
    assert DEFAULT_MAX_SIZE == 20 << 20 and DEFAULT_MAX_FILE == 5


@pytest.mark.parametrize(("options", "expected"), [
    ({"max-size": "1m", "max-file": "3"}, LogOptions("json-file", 1 << 20, 3, False)),
    ({"max-size": "10k", "compress": "true"}, LogOptions("json-file", 10 << 10, DEFAULT_MAX_FILE, True)),
    ({"max-size": "1.5MB"}, LogOptions("json-file", int(1.5 * (1 << 20)), DEFAULT_MAX_FILE, False)),
    ({"max-size": "-1"}, LogOptions("json-file", 0, DEFAULT_MAX_FILE, False)),
    ({"max-size": "2g", "tag": "{{.Name}}"}, LogOptions("json-file", 2 << 30, DEFAULT_MAX_FILE, False)),
])
def test_json_file_options(options: dict[str, str], expected: LogOptions) -> None:
    assert log_options(Logging(driver="json-file", options=options)) == expected


def test_local_compresses_by_default_and_none_keeps_nothing() -> None:
    assert log_options(Logging(driver="local", options={"max-file": "2"})).compress
    assert log_options(Logging(driver="none")).driver == "none"


@pytest.mark.parametrize(("driver", "options", "message"), [
    ("json-file", {"max-size": "ten"}, "max-size must be a size"),
    ("json-file", {"max-size": "0"}, "positive"),
    ("json-file", {"max-file": "0"}, "1 or more"),
    ("json-file", {"max-file": "x"}, "must be a number"),
    ("local", {"compress": "yes"}, "true or false"),
    ("local", {"tag": "x"}, "unknown log opt 'tag' for local"),
    ("none", {"max-size": "1m"}, "unknown log opt 'max-size' for none"),
])
def test_bad_options_are_refused(driver: str, options: dict[str, str], message: str) -> None:
    with pytest.raises(BadLogOption, match=message):
        log_options(Logging(driver=driver, options=options))


def test_the_loader_refuses_a_bad_option_at_its_line(write: Write, load: Load) -> None:
    path = write("compose.yaml", """\
        services:
          web:
            image: busybox
            logging:
              driver: json-file
              options:
                max-size: lots
        """)
    with pytest.raises(SchemaError, match="max-size") as info:
        load(files=[path])
    assert info.value.location.line == 7


def test_other_drivers_are_warned_about_and_get_the_default(write: Write, load: Load) -> None:
    path = write("compose.yaml", """\
        services:
          web:
            image: busybox
            logging:
              driver: syslog
              options: {syslog-address: "udp://1.2.3.4:1111"}
        """)
    project = load(files=[path])
    assert any("logging driver 'syslog' is not supported" in w for w in project.warnings)
    assert log_options(project.services["web"].logging) == LogOptions()
