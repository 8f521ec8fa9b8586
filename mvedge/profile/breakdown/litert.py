"""LiteRT: no per-operator timing from Python. Says so, and where to get one instead."""

from __future__ import annotations

from pathlib import Path

import numpy as np

UNAVAILABLE = (
    "per-operator timing is not available from LiteRT's Python API: ai-edge-litert's Interpreter and "
    "CompiledModel have no profiler hook (_get_ops_details lists the graph's nodes, not their times, and "
    "XNNPACK runs the delegated graph as one DELEGATE node); LiteRT's benchmark_model tool has one "
    "(--enable_op_profiling=true): `mvedge profile ARTIFACT --device android --tool benchmark_model` runs "
    "and parses it on a phone"
)


def breakdown(path: Path, batch: np.ndarray, threads: int, runs: int):
    return None, [UNAVAILABLE]
