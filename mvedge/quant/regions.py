"""Which graph nodes a recipe quantizes: module regions read from torch.export's module stacks.

Every node torch.export records carries `nn_module_stack`: the path and type of each module it
runs inside (e.g. `levels.2.blocks.0.mixer.scan`, `SelectiveScan`). A recipe keeps a node in
float when one of those types is a float type (the selective scan, the norms) or one of those
paths is excluded by the user; `RegionQuantizer` enforces that on any PT2E quantizer by
removing such nodes' annotations after the quantizer has annotated the graph (mvedge.quant.pt2e).
Needs only torch.fx; nothing here imports a toolchain.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable

import torch
from torch import nn

from mvedge.errors import BadInput

SCAN_TYPE = "SelectiveScan"


def module_types(node: torch.fx.Node) -> list[str]:
    """Class names (without module prefix) of the modules a node runs inside, outermost first."""
    stack = node.meta.get("nn_module_stack") or {}
    names = []
    for _, module_type in stack.values():
        name = module_type if isinstance(module_type, str) else getattr(module_type, "__name__", str(module_type))
        names.append(name.rsplit(".", 1)[-1])
    return names


def module_paths(node: torch.fx.Node) -> list[str]:
    """Module paths (e.g. 'levels.2.blocks.0') a node runs inside, outermost first."""
    stack = node.meta.get("nn_module_stack") or {}
    return [str(path) for path, _ in stack.values()]


def inside(path: str, prefixes: Iterable[str]) -> bool:
    """Whether module `path` is one of `prefixes` or nested in one."""
    return any(path == p or path.startswith(p + ".") for p in prefixes)


def resolve_exclusions(model: nn.Module, names: Iterable[str]) -> tuple[str, ...]:
    """Module paths to keep float from user names: a unit name (`head`, `levels.2.blocks.0`, see
    mvedge.quant.units) or any submodule path; ValueError naming the valid units otherwise."""
    from mvedge.quant.units import quant_units

    units = {unit.name: unit.paths for unit in quant_units(model)}
    modules = {name for name, _ in model.named_modules() if name}
    paths: list[str] = []
    for name in names:
        name = name.strip()
        if not name:
            continue
        if name in units:
            paths.extend(units[name])
        elif name in modules:
            paths.append(name)
        else:
            raise BadInput(f"--exclude {name!r} names no block of this model; use one of: {', '.join(units)} (or a submodule path)")
    return tuple(dict.fromkeys(paths))


@dataclasses.dataclass(frozen=True)
class Region:
    """What stays float: nodes inside `float_types` or `excluded` paths, and, when `only` is set,
    every node outside those paths (one block at a time, for sensitivity analysis)."""

    float_types: frozenset[str] = frozenset()
    excluded: tuple[str, ...] = ()
    only: tuple[str, ...] | None = None

    def keeps_float(self, node: torch.fx.Node) -> bool:
        """Whether this node's computation stays float (its quantization annotation is dropped)."""
        if self.float_types.intersection(module_types(node)):
            return True
        paths = module_paths(node)
        if self.excluded and any(inside(path, self.excluded) for path in paths):
            return True
        if self.only is not None and not any(inside(path, self.only) for path in paths):
            return True
        return False


def is_quantize(node: torch.fx.Node) -> bool:
    """A quantize_per_tensor / quantize_per_channel node of a converted PT2E graph."""
    return node.op == "call_function" and "quantize_per" in str(node.target) and "dequantize" not in str(node.target)


def is_dequantize(node: torch.fx.Node) -> bool:
    """A dequantize_per_tensor / dequantize_per_channel node of a converted PT2E graph."""
    return node.op == "call_function" and "dequantize_per" in str(node.target)


def quant_nodes_in_scan(graph_module: torch.fx.GraphModule) -> list[str]:
    """Dequantize nodes on a tensor that flows from a selective-scan node into another one, i.e.
    int8 rounding inside the scan (a recipe must leave none). q/dq nodes carry no module stack
    after convert_pt2e, so the check follows the data flow instead."""
    found = []
    for node in graph_module.graph.nodes:
        if not is_dequantize(node):
            continue
        source = node.args[0]
        if not isinstance(source, torch.fx.Node):  # a folded int8 constant (weights)
            continue
        producer = source.args[0] if is_quantize(source) and source.args else None
        if not isinstance(producer, torch.fx.Node) or SCAN_TYPE not in module_types(producer):
            continue
        if any(SCAN_TYPE in module_types(user) for user in node.users):
            found.append(node.name)
    return found


def op_name(node: torch.fx.Node) -> str:
    """Short op name of a call_function node ('conv2d', 'linear', 'bmm', ...)."""
    target = node.target
    return str(getattr(target, "_opname", None) or getattr(target, "__name__", str(target))).split(".")[0]
