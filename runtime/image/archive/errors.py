from runtime.image.errors import ImageError


class ArchiveError(ImageError):
    """An image archive or layout is malformed, incomplete, or its content does not match its digests."""
