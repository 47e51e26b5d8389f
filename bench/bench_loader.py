"""Compose loader speed: a generated 50-service project, loaded repeatedly; prints the median.

Target: under 100 ms per load. Run: `.venv/bin/python -m bench.bench_loader [--services N] [--runs N]`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from orchestrator.spec import LoadOptions, load_project

TARGET_MS = 100.0


def service_yaml(index: int, count: int) -> str:
    """One realistic service: anchors, interpolation, ports, env, volumes, deploy, healthcheck, deps."""
    depends = f"\n    depends_on: [svc{index - 1}]" if index else ""
    return f"""
  svc{index}:
    <<: *common
    image: "registry.local/app{index}:${{TAG:-1.{index}}}"
    command: ["serve", "--port", "{8000 + index}"]
    ports: ["{10000 + index}:{8000 + index}", "127.0.0.1:{20000 + index}:9000/udp"]
    environment:
      - SERVICE=svc{index}
      - PEERS={count}
      - DATABASE_URL=postgres://db:${{DB_PORT:-5432}}/app{index}
    volumes: ["./data/{index}:/data", "cache{index % 5}:/cache:ro"]
    deploy:
      replicas: {1 + index % 3}
      resources: {{limits: {{cpus: "0.5", memory: 256m, pids: 128}}}}
      restart_policy: {{condition: on-failure, delay: 5s, max_attempts: 3}}
      update_config: {{parallelism: 1, delay: 2s, order: start-first}}
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://localhost:{8000 + index}/health"]
      interval: 10s
      retries: 3{depends}"""


def compose_yaml(count: int) -> str:
    head = """name: bench
x-common: &common
  restart: unless-stopped
  labels: {team: platform, tier: backend}
  logging: {driver: json-file, options: {max-size: 10m}}
  stop_grace_period: 20s
services:"""
    volumes = "\nvolumes:\n" + "".join(f"  cache{i}: {{}}\n" for i in range(5))
    return head + "".join(service_yaml(i, count) for i in range(count)) + volumes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "compose.yaml"
        path.write_text(compose_yaml(args.services))
        options = LoadOptions(files=[path], working_dir=Path(tmp), environ={"TAG": "2.0"})
        project = load_project(options)  # warm-up, and a check that the file is valid
        assert len(project.services) == args.services
        samples = []
        for _ in range(args.runs):
            start = time.perf_counter()
            load_project(options)
            samples.append((time.perf_counter() - start) * 1000)
    median = statistics.median(samples)
    verdict = "ok" if median < TARGET_MS else "SLOWER THAN TARGET"
    print(f"loader: {args.services} services, {args.runs} runs: median {median:.1f} ms, "
          f"min {min(samples):.1f} ms, max {max(samples):.1f} ms (target < {TARGET_MS:.0f} ms: {verdict})")


if __name__ == "__main__":
    main()
