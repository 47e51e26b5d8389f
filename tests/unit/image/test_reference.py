"""Image references normalised as Docker does, and refused when Docker would refuse them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.image.errors import ImageError
from runtime.image.reference import InvalidReference, normalize, parse, short_form

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(("given_ref", "expected"), [
    ("busybox", "docker.io/library/busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox:latest"),
    ("docker.io/busybox", "docker.io/library/busybox:latest"),
    ("index.docker.io/busybox:1", "docker.io/library/busybox:1"),
    ("team/app", "docker.io/team/app:latest"),
    ("team/sub/app:v2", "docker.io/team/sub/app:v2"),
    ("localhost/app", "localhost/app:latest"),
    ("localhost:5000/x", "localhost:5000/x:latest"),
    ("localhost:5000/x:1.0", "localhost:5000/x:1.0"),
    ("registry.example.com/a/b:1", "registry.example.com/a/b:1"),
    ("Registry.Example.com/a", "Registry.Example.com/a:latest"),
    ("[::1]:5000/app", "[::1]:5000/app:latest"),
    ("pyorch.local/busybox", "pyorch.local/busybox:latest"),
    ("pyorch.local/python:3.11", "pyorch.local/python:3.11"),
    (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}"),
    (f"busybox:1.36@{DIGEST}", f"docker.io/library/busybox@{DIGEST}"),
    (f"localhost:5000/x@{DIGEST}", f"localhost:5000/x@{DIGEST}"),
    ("a_b__c-d.e---f", "docker.io/library/a_b__c-d.e---f:latest"),
    ("  busybox  ", "docker.io/library/busybox:latest"),
])
def test_normalises_like_docker(given_ref: str, expected: str) -> None:
    assert normalize(given_ref) == expected


@pytest.mark.parametrize("bad", [
    "", "Busybox", "team/App", "busybox:", "busybox:-x", "busybox:" + "t" * 129, "busybox@sha256:abc",
    "busybox@md5:" + "a" * 32, "a//b", "/busybox", "busybox/", "a__-b", "-a", "a-", "busy box",
    "ab" * 32, "bad_registry.com:port/x", "x:y/z", "bü", "busybox:ta\u0261",
    "example.com/" + "a" * 250,
])
def test_refuses_invalid_references(bad: str) -> None:
    with pytest.raises(InvalidReference) as caught:
        normalize(bad)
    assert isinstance(caught.value, ImageError)
    assert str(caught.value)


def test_parse_splits_the_parts() -> None:
    ref = parse("localhost:5000/team/app:v1")
    assert (ref.registry, ref.path, ref.tag, ref.digest) == ("localhost:5000", "team/app", "v1", None)
    assert ref.repository == "localhost:5000/team/app"
    pinned = parse(f"app@{DIGEST}")
    assert (pinned.tag, pinned.digest) == (None, DIGEST)


@pytest.mark.parametrize(("full", "shown"), [
    ("docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/team/app:1", "team/app:1"),
    ("localhost:5000/x:latest", "localhost:5000/x:latest"),
])
def test_short_form_hides_the_default_registry(full: str, shown: str) -> None:
    assert short_form(full) == shown


@given(st.text(max_size=80))
def test_any_text_normalises_or_raises_a_typed_error(text: str) -> None:
    try:
        once = normalize(text)
    except InvalidReference:
        return
    assert normalize(once) == once  # normal form is a fixed point
