"""The host's apt sources: where its Debian packages come from, read the way apt reads them.

Two formats (sources.list(5)): one-line entries (``deb [options] URI SUITE COMPONENT...``) in
``/etc/apt/sources.list`` and ``sources.list.d/*.list``, and deb822 paragraphs (``Types:``,
``URIs:``, ``Suites:``, ``Components:``, ``Enabled:``, ``Signed-By:``) in ``sources.list.d/*.sources``.
Parsing is pure; `host_sources` reads the files. Nothing here knows a mirror's name: the Debian
image is made from whatever the host is configured with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runtime.image.errors import ImageError

APT_DIR = Path("/etc/apt")
# debootstrap fetches over these; apt's other transports (cdrom:, mirror+file:, tor+…) it cannot use.
_FETCHABLE = ("http://", "https://", "file:/", "ftp://")


@dataclass(frozen=True)
class AptSource:
    """One source entry: several URIs and suites in deb822, one of each on a one-line entry."""

    types: tuple[str, ...]
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]
    signed_by: str = ""   # a keyring path; an inline key block is kept out (it is not a path)
    enabled: bool = True


def parse_one_line(text: str) -> list[AptSource]:
    """``deb [arch=amd64 signed-by=/k.gpg] http://deb.debian.org/debian bookworm main contrib``."""
    sources = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        kind, _, rest = line.partition(" ")
        options: dict[str, str] = {}
        rest = rest.strip()
        if rest.startswith("["):
            inside, sep, rest = rest[1:].partition("]")
            if not sep:
                continue  # malformed; apt would refuse the file, we skip the line
            for option in inside.split():
                key, _, value = option.partition("=")
                options[key.lower()] = value
        words = rest.split()
        if kind not in ("deb", "deb-src") or len(words) < 2:
            continue
        sources.append(AptSource(types=(kind,), uris=(words[0],), suites=(words[1],),
                                 components=tuple(words[2:]), signed_by=options.get("signed-by", "")))
    return sources


def parse_deb822(text: str) -> list[AptSource]:
    """Paragraphs of ``Field: value`` separated by blank lines; continuation lines start with a space."""
    sources = []
    for paragraph in _paragraphs(text):
        fields = {k.lower(): v for k, v in paragraph.items()}
        types, uris, suites = (tuple(fields.get(k, "").split()) for k in ("types", "uris", "suites"))
        if not types or not uris or not suites:
            continue
        signed_by = fields.get("signed-by", "").strip()
        if "\n" in signed_by or signed_by.startswith("-----"):
            signed_by = ""  # an embedded key, not a keyring file
        sources.append(AptSource(
            types=types, uris=uris, suites=suites, components=tuple(fields.get("components", "").split()),
            signed_by=signed_by, enabled=fields.get("enabled", "yes").strip().lower() not in ("no", "false", "0"),
        ))
    return sources


def _paragraphs(text: str) -> list[dict[str, str]]:
    paragraphs: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                paragraphs.append(current)
            current, key = {}, ""
        elif line[0] in " \t" and key:
            current[key] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip()
            current[key] = value.strip()
    if current:
        paragraphs.append(current)
    return paragraphs


def host_sources(apt_dir: Path = APT_DIR) -> list[AptSource]:
    """Every entry apt would read, in apt's order: sources.list, then sources.list.d by name."""
    sources: list[AptSource] = []
    main = apt_dir / "sources.list"
    if main.is_file():
        sources += parse_one_line(main.read_text(errors="replace"))
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        for path in sorted(parts.iterdir()):
            if path.suffix == ".list":
                sources += parse_one_line(path.read_text(errors="replace"))
            elif path.suffix == ".sources":
                sources += parse_deb822(path.read_text(errors="replace"))
    return sources


@dataclass(frozen=True)
class Mirror:
    """Where debootstrap fetches ``suite`` from, and the keyring that signs it (if the host names one)."""

    uri: str
    suite: str
    components: tuple[str, ...]
    keyring: str


def debian_mirror(sources: list[AptSource], suite: str) -> Mirror:
    """The first enabled binary source that carries ``suite`` itself (not -updates or -security)."""
    for source in sources:
        if not source.enabled or "deb" not in source.types or suite not in source.suites:
            continue
        for uri in source.uris:
            if uri.startswith(_FETCHABLE):
                return Mirror(uri=uri.rstrip("/"), suite=suite, components=source.components or ("main",),
                              keyring=source.signed_by)
    raise ImageError(f"no apt source of this host carries the Debian suite {suite!r} over http(s), ftp or "
                     f"file: (read from {APT_DIR}/sources.list and {APT_DIR}/sources.list.d)")


def image_sources_list(sources: list[AptSource], suite: str) -> str:
    """The image's /etc/apt/sources.list: the host's binary entries for ``suite`` and its companions
    (``suite-updates``, ``suite-security``, …), on the same mirrors, so `apt-get install` in a build
    fetches from where the host does. Keyrings come from the image's own debian-archive-keyring."""
    lines = []
    for source in sources:
        if not source.enabled or "deb" not in source.types:
            continue
        for uri in source.uris:
            if not uri.startswith(_FETCHABLE):
                continue
            for entry_suite in source.suites:
                if entry_suite == suite or entry_suite.startswith(suite + "-") or entry_suite.startswith(suite + "/"):
                    line = f"deb {uri} {entry_suite} {' '.join(source.components or ('main',))}"
                    if line not in lines:
                        lines.append(line)
    return "".join(line + "\n" for line in lines)


def host_codename(os_release: Path = Path("/etc/os-release")) -> str:
    """The host's Debian release (``VERSION_CODENAME``); other distributions are refused."""
    fields: dict[str, str] = {}
    try:
        for line in os_release.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                fields[key.strip()] = value.strip().strip('"')
    except OSError as exc:
        raise ImageError(f"cannot read {os_release}: {exc.strerror}") from exc
    if fields.get("ID") != "debian" or not fields.get("VERSION_CODENAME"):
        raise ImageError(f"the Debian image is made from a Debian host's apt sources; {os_release} says "
                         f"ID={fields.get('ID', '?')}")
    return fields["VERSION_CODENAME"]
