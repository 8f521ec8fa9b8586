"""Delegate partitions and nodes outside the delegate, recorded in the sidecar of ExecuTorch and
LiteRT artifacts, checked against counts made here another way."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mvedge.artifact import read_sidecar

pytest.importorskip("executorch")
pytest.importorskip("ai_edge_litert")

from ai_edge_litert.interpreter import Interpreter, OpResolverType  # noqa: E402

from converters.executorch import plan_partitions  # noqa: E402
from mvedge.verify.runners.litert import litert_partitions  # noqa: E402


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_executorch_digits_sidecar_counts_match_the_program(converted, precision: str) -> None:
    path = converted("digits", "executorch", precision)
    conversion = read_sidecar(path).conversion
    recorded = conversion["partitions"]
    assert recorded["delegate"] == "XnnpackBackend" and recorded["partitions"] >= 1
    assert sum(recorded["ops_outside"].values()) == recorded["nodes_outside"]
    # the same answer from the edge graph before serialization (ExecuTorch's delegation info)
    report = conversion["delegation"]
    assert (recorded["partitions"], recorded["nodes_outside"]) == (report["delegated_subgraphs"], report["non_delegated_nodes"])
    # and from the file as written
    assert plan_partitions(path.read_bytes()) == recorded
    if precision == "fp32":  # the whole float graph is one XNNPACK partition
        assert (recorded["partitions"], recorded["nodes_outside"], recorded["ops_outside"]) == (1, 0, {})


class _PartlyDelegable(nn.Module):
    """Two linears around cumsum and flip, which XNNPACK does not take: two partitions, two
    operators outside."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.cumsum(self.a(x), -1).flip(-1))


def test_executorch_plan_counts_agree_with_the_edge_graph_when_ops_stay_outside() -> None:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.devtools.backend_debug import get_delegation_info
    from executorch.exir import to_edge_transform_and_lower

    program = torch.export.export(_PartlyDelegable().eval(), (torch.randn(2, 8),))
    edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
    info = get_delegation_info(edge.exported_program().graph_module)
    outside = {op: b.non_delegated for op, b in info.delegation_by_operator.items() if b.non_delegated and op != "getitem"}
    counts = plan_partitions(edge.to_executorch().buffer)
    assert counts["partitions"] == info.num_delegated_subgraphs == 2
    assert counts["nodes_outside"] == sum(outside.values()) == 2
    assert counts["ops_outside"] == {"aten::cumsum": 1, "aten::flip": 1}


def _node_count(path, resolver) -> int:
    interpreter = Interpreter(model_path=str(path), experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    return len(interpreter._get_ops_details())


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_litert_digits_sidecar_counts_match_the_interpreter(converted, precision: str) -> None:
    path = converted("digits", "tflite", precision)
    conversion = read_sidecar(path).conversion
    recorded = conversion["partitions"]
    assert recorded["delegate"] == "XNNPACK" and recorded["partitions"] == conversion["xnnpack"]["partitions"]
    # partitions: the nodes XNNPACK added over the plain (undelegated) interpreter's
    plain = _node_count(path, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    assert recorded["partitions"] == _node_count(path, OpResolverType.AUTO) - plain > 0
    # every node of the flatbuffer is either inside a partition or outside, none twice
    assert recorded["nodes_delegated"] + recorded["nodes_outside"] == plain == conversion["op_count"]
    assert sum(recorded["ops_outside"].values()) == recorded["nodes_outside"]


def test_litert_nodes_outside_match_a_walk_from_the_graph_outputs(converted) -> None:
    """Independent count: walk back from the graph's outputs, taking each tensor from the DELEGATE
    node that yields it where one does, else from its original node (which then runs outside the
    delegate); the nodes reached that way are the ones outside. All-integer int8: XNNPACK leaves
    its int8 GELUs and attention matmuls outside."""
    path = converted("digits", "tflite", "int8", all_integer=True)
    interpreter = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.AUTO)
    interpreter.allocate_tensors()
    ops = interpreter._get_ops_details()
    delegates = [op for op in ops if op["op_name"] == "DELEGATE"]
    original = ops[: len(ops) - len(delegates)]
    from_delegate = {int(t): op["index"] for op in delegates for t in op["outputs"]}
    from_node = {int(t): op["index"] for op in original for t in op["outputs"]}
    outside: set[int] = set()
    seen: set[int] = set()
    stack = [int(t) for t in interpreter._interpreter.OutputIndices()]
    while stack:
        tensor = stack.pop()
        if tensor < 0 or tensor in seen:
            continue
        seen.add(tensor)
        runner = from_delegate.get(tensor, from_node.get(tensor))
        if runner is None:  # a graph input or a constant
            continue
        if runner < len(original):
            outside.add(runner)
        stack.extend(int(t) for t in ops[runner]["inputs"])
    counts = litert_partitions(ops)
    assert read_sidecar(path).conversion["partitions"] == counts
    assert counts["nodes_outside"] == len(outside) > 0
    names: dict[str, int] = {}
    for index in outside:
        names[ops[index]["op_name"]] = names.get(ops[index]["op_name"], 0) + 1
    assert counts["ops_outside"] == names


def _outside_of(path) -> dict:
    interpreter = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.AUTO)
    interpreter.allocate_tensors()
    return litert_partitions(interpreter._get_ops_details())


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_litert_takes_the_whole_small_model_into_one_xnnpack_partition(converted, small_bundle, precision: str) -> None:
    """Every block kind (conv, Mamba with 8-position scan chunks, window attention, MLP): the scan's
    concatenations, and in int8 the GELUs and attention matmuls, all run inside XNNPACK."""
    path = converted(small_bundle, "tflite", precision)
    counts = _outside_of(path)
    assert (counts["partitions"], counts["nodes_outside"], counts["ops_outside"]) == (1, 0, {})
    assert read_sidecar(path).conversion["partitions"] == counts


def test_litert_takes_the_whole_digits_model_into_one_xnnpack_partition(converted) -> None:
    counts = _outside_of(converted("digits", "tflite", "fp32"))
    assert (counts["partitions"], counts["nodes_outside"], counts["ops_outside"]) == (1, 0, {})
