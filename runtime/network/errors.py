from runtime.errors import RuntimeFailure


class NetworkError(RuntimeFailure):
    """A network, address or port mapping could not be set up."""


class PortConflict(NetworkError):
    """A host port is already taken (by another service or by a host process)."""
