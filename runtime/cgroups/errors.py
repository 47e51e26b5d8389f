from runtime.errors import RuntimeFailure


class CgroupError(RuntimeFailure):
    """A cgroup could not be created, limited or removed."""
