"""Shipping artifacts in the demo apps: where each app expects files (layout), the contract vectors
the apps' own tests compare with (contract), their tolerances (tolerances, measured on ARM64 kernels
or documented floors), and `mvedge bundle`'s copy step (bundle)."""
