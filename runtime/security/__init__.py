"""Security profiles applied to containers: seccomp filters and the device allowlist."""
