"""Run artifacts on ARM64 CPU kernels under user-mode emulation (`--arch arm64`)."""
