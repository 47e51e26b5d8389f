"""Named volumes: a directory each under the state root, with Docker's local driver options."""

from runtime.volume.local import LocalMount, VolumeOptionError, plan_local
from runtime.volume.store import Volume, VolumeConflict, VolumeInUse, VolumeNotFound, VolumeStore

__all__ = ["LocalMount", "Volume", "VolumeConflict", "VolumeInUse", "VolumeNotFound", "VolumeOptionError",
           "VolumeStore", "plan_local"]
