"""The host's apt sources, read as apt reads them: deb822 and one-line entries, which mirror
carries the suite, and the image's sources.list."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.image.apt_sources import (
    debian_mirror,
    host_codename,
    host_sources,
    image_sources_list,
    parse_deb822,
    parse_one_line,
)
from runtime.image.errors import ImageError

DEB822 = """\
# the main archive
Types: deb deb-src
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb
URIs: http://inline.example/debian
Suites: trixie
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBF...
 -----END PGP PUBLIC KEY BLOCK-----
"""


def test_deb822_paragraphs_fields_and_continuations() -> None:
    sources = parse_deb822(DEB822)
    assert [s.uris for s in sources] == [("http://mirror.example/debian/",), ("http://security.example/debian-security",),
                                         ("http://disabled.example/debian",), ("http://inline.example/debian",)]
    main = sources[0]
    assert main.types == ("deb", "deb-src") and main.suites == ("bookworm", "bookworm-updates")
    assert main.components == ("main", "contrib") and main.enabled
    assert main.signed_by == "/usr/share/keyrings/debian-archive-keyring.gpg"
    assert not sources[2].enabled
    assert sources[3].signed_by == ""  # an embedded key is not a keyring path


def test_one_line_entries_with_options_and_comments() -> None:
    sources = parse_one_line(
        "# comment\n"
        "deb [arch=amd64 signed-by=/etc/apt/keyrings/x.gpg] http://m.example/debian bookworm main non-free\n"
        "deb-src http://m.example/debian bookworm main  # trailing comment\n"
        "nonsense line\n")
    assert [(s.types, s.uris[0], s.suites, s.components, s.signed_by) for s in sources] == [
        (("deb",), "http://m.example/debian", ("bookworm",), ("main", "non-free"), "/etc/apt/keyrings/x.gpg"),
        (("deb-src",), "http://m.example/debian", ("bookworm",), ("main",), ""),
    ]


def test_the_mirror_is_the_first_enabled_binary_source_of_the_suite_itself() -> None:
    sources = [*parse_one_line("deb cdrom:/media bookworm main\ndeb-src http://src.example/debian bookworm main\n"),
               *parse_deb822(DEB822)]
    mirror = debian_mirror(sources, "bookworm")
    assert mirror.uri == "http://mirror.example/debian" and mirror.suite == "bookworm"
    assert mirror.keyring == "/usr/share/keyrings/debian-archive-keyring.gpg"
    with pytest.raises(ImageError, match="no apt source of this host carries the Debian suite 'sid'"):
        debian_mirror(sources, "sid")


def test_the_image_gets_the_suite_and_its_companions_on_the_same_mirrors() -> None:
    assert image_sources_list(parse_deb822(DEB822), "bookworm") == (
        "deb http://mirror.example/debian/ bookworm main contrib\n"
        "deb http://mirror.example/debian/ bookworm-updates main contrib\n"
        "deb http://security.example/debian-security bookworm-security main\n")


def test_host_files_are_read_in_apts_order(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text("deb http://first.example/debian bookworm main\n")
    (tmp_path / "sources.list.d" / "b.sources").write_text(DEB822)
    (tmp_path / "sources.list.d" / "a.list").write_text("deb http://second.example/debian bookworm main\n")
    (tmp_path / "sources.list.d" / "ignored.save").write_text("deb http://never.example/debian bookworm main\n")
    uris = [s.uris[0] for s in host_sources(tmp_path)]
    assert uris[:3] == ["http://first.example/debian", "http://second.example/debian", "http://mirror.example/debian/"]
    assert "http://never.example/debian" not in uris


def test_codename_comes_from_os_release_and_only_debian_is_accepted(tmp_path: Path) -> None:
    release = tmp_path / "os-release"
    release.write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n')
    assert host_codename(release) == "bookworm"
    release.write_text('ID=ubuntu\nVERSION_CODENAME=noble\n')
    with pytest.raises(ImageError, match="ID=ubuntu"):
        host_codename(release)
