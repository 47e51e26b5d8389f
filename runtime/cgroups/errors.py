"""The errors the cgroup layer reports; all are `RuntimeFailure`s so the CLI renders them."""

from runtime.errors import ConfigurationError, RuntimeFailure


class CgroupError(RuntimeFailure):
    """A cgroup could not be created, limited, observed or removed."""


class InvalidResources(CgroupError, ConfigurationError):
    """A limit the kernel would refuse (or silently change); refused before anything is written."""


class ControllerUnavailable(CgroupError, ConfigurationError):
    """A limit needs a controller this host (or this cgroup) does not offer."""


class CgroupBusy(CgroupError):
    """A cgroup still holds processes or children and cannot be removed."""
