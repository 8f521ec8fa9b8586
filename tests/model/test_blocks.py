"""Block paths and where their outputs are in a torch.export graph."""

from __future__ import annotations

import torch

import mvedge
from mvedge.model.blocks import block_output_nodes, block_paths, in_scope
from mvedge.model.configs import test_config

CONFIG = test_config("tiny", image_size=32, depths=[1, 1, 2, 1])


def test_block_paths_in_execution_order() -> None:
    model = mvedge.build(**CONFIG)
    assert block_paths(model) == [
        "patch_embed", "levels.0.blocks.0", "levels.0.downsample", "levels.1.blocks.0", "levels.1.downsample",
        "levels.2.blocks.0", "levels.2.blocks.1", "levels.2.downsample", "levels.3.blocks.0",
    ]


def test_in_scope_is_exact_about_indices() -> None:
    assert in_scope("model.levels.1.blocks.0.mlp", "levels.1.blocks.0")
    assert in_scope("levels.1.blocks.0", "levels.1.blocks.0")
    assert not in_scope("levels.11.blocks.0", "levels.1.blocks.0")
    assert not in_scope("levels.1.blocks.01", "levels.1.blocks.0")


def test_block_output_nodes_produce_the_block_outputs() -> None:
    model = mvedge.build(**CONFIG).eval()
    x = torch.randn(1, 3, 32, 32)
    exported = torch.export.export(model, (x,))
    nodes = block_output_nodes(exported, block_paths(model))
    assert set(nodes) == set(block_paths(model))
    captured = {}
    modules = dict(model.named_modules())
    hooks = [modules[b].register_forward_hook(lambda _m, _i, out, b=b: captured.__setitem__(b, out)) for b in nodes]
    with torch.no_grad():
        model(x)
    for hook in hooks:
        hook.remove()
    interpreter_values = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n):
            value = super().run_node(n)
            interpreter_values[n.name] = value
            return value

    Recorder(exported.module()).run(x)
    for block, node in nodes.items():
        torch.testing.assert_close(interpreter_values[node], captured[block], rtol=1e-5, atol=1e-5)
