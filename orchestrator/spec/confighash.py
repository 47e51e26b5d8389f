"""The config hash pyorch labels a service's containers with (`config --hash` prints it).

It is the sha256 of the service as `config --format json` prints it, minus what does not need a
new container (and so without `x-*` keys, which no container uses: Compose's hash leaves them
out too), plus the keys pyorch honours that Compose does not print. Hashing the printed form
makes the hash of `config`'s output the hash of its input: a value Compose's model cannot tell
from unset (`cpus: 0`, `oom_score_adj: 0`, `-0.0`), which `config` leaves out, hashes as unset.
"""

from __future__ import annotations

import hashlib

from orchestrator.spec.canonical import service_tree
from orchestrator.spec.goformat import emit_json
from orchestrator.spec.model import Project, without_extensions

HASH_EXCLUDED = ("build", "pull_policy", "scale", "depends_on", "profiles")
# Keys pyorch honours that Compose v2.40.3's `config` does not print (docs/compose-compatibility.md).
UNPRINTED_KEYS = ("pre_start", "pull_refresh_after")


def config_hash(project: Project, service_name: str) -> str:
    service = project.services[service_name]
    data = without_extensions(service_tree(project, service))  # JSON prints empty structs: `{}`
    for key in HASH_EXCLUDED:
        data.pop(key, None)
    deploy = data.get("deploy")
    if isinstance(deploy, dict):
        deploy.pop("replicas", None)
        if not deploy:
            data.pop("deploy")
    data.update(service.model_dump(mode="json", exclude_none=True, include=set(UNPRINTED_KEYS)))
    return hashlib.sha256(emit_json(data).encode()).hexdigest()
