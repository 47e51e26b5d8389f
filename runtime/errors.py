"""The runtime's user-facing errors. The CLI renders every one of them in one place."""


class RuntimeFailure(Exception):
    """Base of all errors the runtime reports to users (image, cgroup, network, container)."""


class ConfigurationError(RuntimeFailure):
    """The container's configuration cannot work on this host as it is (an unknown user, a missing
    image or bind source, a command that is not there, a limit the kernel refuses): trying again
    fails the same way, so the engine does not retry until the configuration changes."""


class ContainerNotFound(RuntimeFailure):
    """No container with that id or name exists."""


class ContainerStateError(RuntimeFailure):
    """The container is in a state that does not allow the operation."""
