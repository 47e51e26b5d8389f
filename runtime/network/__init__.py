"""Container networking: bridges, IPAM, veths (pyroute2) and published ports (nftables)."""

from runtime.network.errors import NetworkError, PortConflict
from runtime.network.manager import NetworkManager
from runtime.network.model import Attachment, NetworkInfo, NetworkSpec, PortBinding

__all__ = ["Attachment", "NetworkError", "NetworkInfo", "NetworkManager", "NetworkSpec", "PortBinding",
           "PortConflict"]
