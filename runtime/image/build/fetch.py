"""``ADD <http(s) URL> <dest>``: the file downloaded by the builder, checked with ``--checksum``.

As Docker does: the file is named after the last component of the URL's path (or is the
destination itself when that does not end in '/'), gets mode 0600, and the ``Last-Modified`` time
when the server sends one; remote archives are not unpacked. With ``--checksum=sha256:<hex>`` a
download with other bytes fails the build, and the step's cache key is the checksum, so a cached
step downloads nothing; without it the file is downloaded every build and keyed by its content.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import posixpath
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from runtime.image.build.errors import BuildError

_CHECKSUM = re.compile(r"sha256:[0-9a-f]{64}")
TIMEOUT_S = 60.0


def check_checksum(text: str) -> str:
    if not _CHECKSUM.fullmatch(text):
        raise BuildError(f"--checksum={text!r}: want sha256:<64 hex digits>")
    return text


def file_name(url: str) -> str:
    name = posixpath.basename(unquote(urlparse(url).path))
    return name or "index.html"


def download(url: str, directory: Path, name: str, checksum: str | None) -> tuple[Path, str]:
    """Fetch ``url`` into ``directory/name``; returns the path and the sha256 digest of its bytes."""
    import httpx  # here, not at the top: ~2.4 MiB of an engine that never downloads
    path = directory / name
    digest = hashlib.sha256()
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=TIMEOUT_S) as response:
            if response.status_code != 200:
                raise BuildError(f"ADD {url}: the server answered {response.status_code} {response.reason_phrase}")
            with open(path, "wb") as out:
                for chunk in response.iter_bytes():
                    digest.update(chunk)
                    out.write(chunk)
            modified = response.headers.get("last-modified")
    except httpx.HTTPError as exc:
        raise BuildError(f"ADD {url}: {exc}") from exc
    found = "sha256:" + digest.hexdigest()
    if checksum is not None and found != checksum:
        raise BuildError(f"ADD {url}: the download's digest is {found}, --checksum wants {checksum}")
    os.chmod(path, 0o600)
    if modified:
        try:
            when = email.utils.parsedate_to_datetime(modified).timestamp()
        except (TypeError, ValueError):
            when = None  # a malformed header: keep the download's own time
        if when is not None:
            os.utime(path, (when, when))
    return path, found
