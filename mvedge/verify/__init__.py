"""Verification: run an artifact in its own runtime and measure its drift from the float model."""
