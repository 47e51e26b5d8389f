from runtime.errors import ConfigurationError, RuntimeFailure


class ImageError(RuntimeFailure):
    """An image could not be stored, unpacked or used."""


class ImageNotFound(ImageError, ConfigurationError):
    """No image matches the reference."""


class HostileLayer(ImageError):
    """A layer tries to write outside its directory (.., absolute links out, symlink tricks)."""
