"""Where the registry settings come from: credentials and insecure hosts of one pyorch instance."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from runtime.image.registry.client import RegistryClient
from runtime.image.registry.credentials import CredentialStore
from runtime.image.registry.endpoint import endpoint_for, insecure_registries


@dataclass
class Registries:
    credentials: CredentialStore
    insecure: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def for_state(cls, state_root: Path) -> Registries:
        """``$PYORCH_ROOT/auth.json`` then Docker's config; insecure hosts from env and registries.json."""
        return cls(CredentialStore(state_root / "auth.json"), insecure_registries(state_root))

    def client(self, registry: str) -> RegistryClient:
        return RegistryClient(endpoint_for(registry, self.insecure), self.credentials.lookup(registry))
