"""Implementations of the CLI subcommands (each a plain function over the library)."""
