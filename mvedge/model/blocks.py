"""The model's blocks in execution order, and where each one's output lives in an exported graph.

Drift localisation compares a runtime's intermediate tensors with the float model's block by
block; these helpers name the blocks (module paths such as `levels.2.blocks.0`) and find, in a
torch.export graph, the node that produces each block's output.
"""

from __future__ import annotations

import torch
from torch import nn


def block_paths(model: nn.Module) -> list[str]:
    """Module paths of the stem, every block and every downsampler, in execution order."""
    paths = ["patch_embed"]
    for index, level in enumerate(model.levels):
        paths += [f"levels.{index}.blocks.{j}" for j in range(len(level.blocks))]
        if getattr(level, "downsample", None) is not None:
            paths.append(f"levels.{index}.downsample")
    return paths


def in_scope(module_path: str, block: str) -> bool:
    """Whether a dotted module path (possibly under a wrapper, e.g. `model.levels.0.blocks.1.mlp`)
    is `block` or inside it."""
    return f".{block}." in f".{module_path}."


def block_output_nodes(exported: torch.export.ExportedProgram, blocks: list[str]) -> dict[str, str]:
    """{block: name of the last graph node inside it}: in a block's forward the last op (the
    residual add, the downsampling conv) makes its output."""
    last: dict[str, str] = {}
    for node in exported.graph.nodes:
        if node.op != "call_function":
            continue
        stack = node.meta.get("nn_module_stack") or {}
        paths = [path for path, _ in stack.values()]
        for block in blocks:
            if any(in_scope(path, block) for path in paths):
                last[block] = node.name
    return last
