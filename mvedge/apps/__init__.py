"""Shipping artifacts in the demo apps: where each app expects files (layout), the contract vectors
the apps' own tests compare with (contract), and `mvedge bundle`'s copy step (bundle)."""
