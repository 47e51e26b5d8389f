"""`cp`'s path rules, as Docker's (`docker cp` reference): where a source lands."""

from __future__ import annotations

import pytest

from orchestrator.cli.cmd_cp import Plan, Where, plan, split_ref
from orchestrator.errors import PyorchError

MISSING, MISSING_NO_PARENT = Where(False, False, True), Where(False, False, False)
FILE, DIR = Where(True, False, True), Where(True, True, True)


def test_refs() -> None:
    assert split_ref("web:/etc/hosts") == ("web", "/etc/hosts")
    assert split_ref("./a:b") == (None, "./a:b")
    assert split_ref("/tmp/x:y") == (None, "/tmp/x:y")
    assert split_ref("notes.txt") == (None, "notes.txt")


@pytest.mark.parametrize(("source", "is_dir", "dest", "where", "expected"), [
    ("a.txt", False, "/srv/b.txt", MISSING, Plan("/srv", "b.txt")),        # saved under the new name
    ("a.txt", False, "/srv/b.txt", FILE, Plan("/srv", "b.txt")),           # overwritten
    ("dir/a.txt", False, "/srv", DIR, Plan("/srv", "a.txt")),              # into the directory
    ("tree", True, "/srv/new", MISSING, Plan("/srv", "new")),              # becomes the new directory
    ("tree", True, "/srv", DIR, Plan("/srv", "tree")),                     # goes in under its name
    ("tree/", True, "/srv", DIR, Plan("/srv", "tree")),
    ("tree/.", True, "/srv", DIR, Plan("/srv", ".")),                      # its contents
    ("/", True, "/srv", DIR, Plan("/srv", ".")),                           # the root: its contents
])
def test_where_a_source_lands(source: str, is_dir: bool, dest: str, where: Where, expected: Plan) -> None:
    assert plan(source, is_dir, dest, where) == expected


@pytest.mark.parametrize(("source", "is_dir", "dest", "where", "message"), [
    ("tree", True, "/srv/file", FILE, "cannot copy a directory to a file"),
    ("a.txt", False, "/srv/missing/", MISSING, "does not exist"),
    ("a.txt", False, "/nope/b.txt", MISSING_NO_PARENT, "parent directory"),
])
def test_what_docker_refuses(source: str, is_dir: bool, dest: str, where: Where, message: str) -> None:
    with pytest.raises(PyorchError, match=message):
        plan(source, is_dir, dest, where)
