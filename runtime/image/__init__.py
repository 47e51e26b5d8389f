"""Images: a local content-addressed store, safe layer unpacking, offline base images."""

from runtime.image.changes import InvalidChange, apply_changes
from runtime.image.config import ImageConfig, InvalidImageConfig
from runtime.image.errors import HostileLayer, ImageError, ImageNotFound
from runtime.image.reference import InvalidReference, normalize
from runtime.image.store import Image, ImageInUse, ImageStore, Layer

__all__ = [
    "HostileLayer", "Image", "ImageConfig", "ImageError", "ImageInUse", "ImageNotFound", "ImageStore",
    "InvalidChange", "InvalidImageConfig", "InvalidReference", "Layer", "apply_changes", "normalize",
]
