"""`save`/`load`: images to and from docker-archive tarballs and OCI image layouts."""

from runtime.image.archive.errors import ArchiveError
from runtime.image.archive.load import load_images
from runtime.image.archive.save import SAVE_FORMATS, save_images

__all__ = ["SAVE_FORMATS", "ArchiveError", "load_images", "save_images"]
