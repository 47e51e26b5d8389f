"""The runtime's user-facing errors. The CLI renders every one of them in one place."""


class RuntimeFailure(Exception):
    """Base of all errors the runtime reports to users (image, cgroup, network, container)."""


class ContainerNotFound(RuntimeFailure):
    """No container with that id or name exists."""


class ContainerStateError(RuntimeFailure):
    """The container is in a state that does not allow the operation."""
