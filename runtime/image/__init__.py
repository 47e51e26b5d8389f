"""Images: a local content-addressed store, safe layer unpacking, offline base images."""

from runtime.image.config import ImageConfig
from runtime.image.errors import HostileLayer, ImageError, ImageNotFound
from runtime.image.reference import normalize
from runtime.image.store import Image, ImageStore

__all__ = ["HostileLayer", "Image", "ImageConfig", "ImageError", "ImageNotFound", "ImageStore", "normalize"]
