"""Converter tests use the shared small checkpoint fixtures of tests/conftest.py."""

from tests.conftest import SMALL  # noqa: F401  (kept importable from here)
