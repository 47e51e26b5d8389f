"""diff_ids: the digest of a layer's uncompressed tar, whatever the blob's compression."""

from __future__ import annotations

import gzip
import hashlib
import io

import pytest
import zstandard

from runtime.image.diffid import diff_id_of
from runtime.image.errors import ImageError

RAW = b"tar bytes " * 50_000
EXPECTED = "sha256:" + hashlib.sha256(RAW).hexdigest()


@pytest.mark.parametrize("blob", [RAW, gzip.compress(RAW), zstandard.ZstdCompressor().compress(RAW),
                                  gzip.compress(RAW[:1000]) + gzip.compress(RAW[1000:])])  # multi-member gzip
def test_diff_id_of_every_compression(blob: bytes) -> None:
    assert diff_id_of(io.BytesIO(blob)) == EXPECTED


def test_truncated_gzip_is_an_image_error() -> None:
    with pytest.raises(ImageError, match="not valid compressed data"):
        diff_id_of(io.BytesIO(gzip.compress(RAW)[:-100]))
