"""Every MIL op the interpreter implements, against PyTorch (or an explicit formula) on random inputs.

Each case builds a one-op MIL program with coremltools' builder, runs it in the interpreter and
compares with the reference. `test_every_registered_op_has_a_case` keeps the table complete.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

ct = pytest.importorskip("coremltools")

from coremltools.converters.mil.mil import Builder as mb  # noqa: E402
from coremltools.converters.mil.mil import mil_list  # noqa: E402
from coremltools.converters.mil.mil import types  # noqa: E402

from mvedge.verify.coreml_interpreter import OPS, MILInterpreter, UnsupportedOperation  # noqa: E402
from mvedge.verify.coreml_interpreter.ops import unpack_bits  # noqa: E402

RNG = np.random.default_rng(0)
T = torch.from_numpy


def r(*shape: int, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    return RNG.uniform(lo, hi, shape).astype(np.float32)


_DTYPES = {np.dtype(np.float32): types.fp32, np.dtype(np.float16): types.fp16, np.dtype(np.bool_): types.bool, np.dtype(np.int32): types.int32,
           np.dtype(np.int8): types.int8, np.dtype(np.uint8): types.uint8}


def run_program(build: Callable, inputs: list[np.ndarray], opset: Any = None) -> list[Any]:
    """Build a program taking `inputs` (named x, y, z, ...) whose outputs are `build(...)`, run it."""
    names = ["x", "y", "z", "w"][: len(inputs)]
    specs = [mb.TensorSpec(shape=a.shape, dtype=_DTYPES[a.dtype]) for a in inputs]
    source = f"lambda {', '.join(names)}: build({', '.join(names)})"
    fn = eval(source, {"build": build})  # mb.program names the inputs after the parameters
    program = mb.program(input_specs=specs, opset_version=opset or ct.target.iOS17)(fn)
    interpreter = MILInterpreter(program)
    out = interpreter.predict(dict(zip(names, inputs)))
    return [out[name] for name in interpreter.output_names]


@dataclass
class Case:
    op: str
    build: Callable
    inputs: list[np.ndarray]
    reference: Callable  # numpy/torch inputs -> expected output(s)
    opset: Any = None
    tol: float = 1e-6

    @property
    def id(self) -> str:
        return self.op


def _ref(fn: Callable) -> Callable:
    """Reference on torch tensors, result(s) back as numpy."""

    def wrapped(*arrays):
        out = fn(*[T(np.ascontiguousarray(a)) for a in arrays])
        if isinstance(out, (tuple, list)):
            return [o.numpy() for o in out]
        return out.numpy()

    return wrapped


X = r(2, 3, 4)
Y = r(3, 4)
POS = r(2, 3, 4, lo=0.1, hi=3.0)
POS_Y = r(3, 4, lo=0.5, hi=2.0)
INT_X = np.round(r(2, 3, 4))
INT_Y = np.round(r(3, 4))
BOOL_X = RNG.random((2, 3)) > 0.5
BOOL_Y = RNG.random((2, 3)) > 0.5
IMG = r(2, 4, 9, 9)
SEQ = r(2, 4, 10)


def _bin(op: str, torch_fn: Callable, x=X, y=Y) -> Case:
    return Case(op, lambda a, b: getattr(mb, op)(x=a, y=b), [x, y], _ref(torch_fn))


def _un(op: str, torch_fn: Callable, x=X) -> Case:
    return Case(op, lambda a: getattr(mb, op)(x=a), [x], _ref(torch_fn))


def _conv_ref(x, w, b, stride, pads, dilation, groups):
    flat = [p for pair in reversed(pads) for p in pair]
    fn = F.conv1d if x.dim() == 3 else F.conv2d
    return fn(F.pad(x, flat), w, b, stride=stride, dilation=dilation, groups=groups)


W2 = r(6, 2, 3, 3)
B2 = r(6)
W1 = r(4, 1, 3)


def _pack_lsb_first(values: np.ndarray, nbits: int) -> np.ndarray:
    """Pack uint values into bytes, least significant bit first (the iOS16 constexpr layout)."""
    bits = ((values.reshape(-1, 1) >> np.arange(nbits)) & 1).astype(np.uint8).reshape(-1)
    return np.packbits(bits, bitorder="little")


LUT16 = r(16)
IDX4 = RNG.integers(0, 16, 30).astype(np.uint8)
MASK = RNG.random((5, 6)) > 0.5
Q8 = RNG.integers(-128, 128, (4, 6)).astype(np.int8)
ZP8 = RNG.integers(-5, 5, 4).astype(np.int8)
SC = r(4, lo=0.01, hi=0.1)
IDX_GROUPS = RNG.integers(0, 16, (4, 6)).astype(np.uint8)
LUT_GROUPS = r(2, 1, 16, 1)
IDX_VEC = RNG.integers(0, 4, (3, 4)).astype(np.uint8)
LUT_VEC = r(1, 1, 4, 2)
BLOCK_DATA = RNG.integers(-128, 128, (4, 6)).astype(np.int8)
BLOCK_SCALE = r(2, 3, lo=0.01, hi=0.1)
BLOCK_OFFSET = RNG.integers(-3, 3, (2, 3)).astype(np.int8)


def _blockwise_ref(data, scale, offset):
    s = np.repeat(np.repeat(scale, 2, axis=0), 2, axis=1)
    o = np.repeat(np.repeat(offset.astype(np.float32), 2, axis=0), 2, axis=1)
    return s * (data.astype(np.float32) - o)


def _lut_group_ref():
    out = np.empty((4, 6), np.float32)
    for i in range(4):
        out[i] = LUT_GROUPS[i // 2, 0, IDX_GROUPS[i], 0]
    return out


def _lut_vector_ref():
    out = np.empty((6, 4), np.float32)  # vector_axis 0: each index fills 2 consecutive rows
    for i in range(3):
        for j in range(4):
            out[2 * i : 2 * i + 2, j] = LUT_VEC[0, 0, IDX_VEC[i, j]]
    return out


def _uint(values: np.ndarray, nbits: int) -> np.ndarray:
    return values.astype(types.nptype_from_builtin(types.string_to_builtin(f"uint{nbits}")))


CASES: list[Case] = [
    # elementwise binary, broadcasting
    _bin("add", torch.add),
    _bin("sub", torch.sub),
    _bin("mul", torch.mul),
    _bin("real_div", torch.true_divide, y=POS_Y),
    _bin("pow", torch.pow, x=POS, y=Y),
    _bin("maximum", torch.maximum),
    _bin("minimum", torch.minimum),
    _bin("floor_div", lambda a, b: torch.floor(a / b), y=POS_Y),
    _bin("equal", torch.eq, INT_X, INT_Y),
    _bin("not_equal", torch.ne, INT_X, INT_Y),
    _bin("less", torch.lt, INT_X, INT_Y),
    _bin("less_equal", torch.le, INT_X, INT_Y),
    _bin("greater", torch.gt, INT_X, INT_Y),
    _bin("greater_equal", torch.ge, INT_X, INT_Y),
    _bin("logical_and", torch.logical_and, BOOL_X, BOOL_Y),
    _bin("logical_or", torch.logical_or, BOOL_X, BOOL_Y),
    _bin("logical_xor", torch.logical_xor, BOOL_X, BOOL_Y),
    _un("logical_not", torch.logical_not, BOOL_X),
    # elementwise unary
    _un("relu", torch.relu),
    Case("relu6", lambda a: mb.relu6(x=a), [X * 4], _ref(F.relu6)),
    _un("sigmoid", torch.sigmoid),
    _un("silu", F.silu),
    _un("tanh", torch.tanh),
    _un("exp", torch.exp),
    _un("exp2", torch.exp2),
    _un("abs", torch.abs),
    _un("sqrt", torch.sqrt, POS),
    _un("square", torch.square),
    _un("erf", torch.erf),
    _un("softplus", F.softplus),
    _un("floor", torch.floor),
    _un("ceil", torch.ceil),
    _un("sign", torch.sign, INT_X),
    _un("sin", torch.sin),
    _un("cos", torch.cos),
    Case("log", lambda a: mb.log(x=a), [POS], _ref(torch.log)),
    Case("log", lambda a: mb.log(x=a, epsilon=1e-3), [POS], _ref(lambda a: torch.log(a + 1e-3))),
    Case("rsqrt", lambda a: mb.rsqrt(x=a, epsilon=1e-6), [POS], _ref(lambda a: torch.rsqrt(a + 1e-6)), tol=1e-5),
    Case("inverse", lambda a: mb.inverse(x=a, epsilon=1e-4), [POS], _ref(lambda a: 1.0 / (a + 1e-4)), tol=1e-5),
    Case("clip", lambda a: mb.clip(x=a, alpha=-0.5, beta=0.7), [X], _ref(lambda a: torch.clamp(a, -0.5, 0.7))),
    Case("leaky_relu", lambda a: mb.leaky_relu(x=a, alpha=0.1), [X], _ref(lambda a: F.leaky_relu(a, 0.1))),
    Case("gelu", lambda a: mb.gelu(x=a, mode="EXACT"), [X], _ref(F.gelu)),
    Case("gelu", lambda a: mb.gelu(x=a, mode="TANH_APPROXIMATION"), [X], _ref(lambda a: F.gelu(a, approximate="tanh"))),
    Case("gelu", lambda a: mb.gelu(x=a, mode="SIGMOID_APPROXIMATION"), [X], _ref(lambda a: a * torch.sigmoid(1.702 * a))),
    Case("select", lambda c, a, b: mb.select(cond=c, a=a, b=b), [BOOL_X, r(2, 3), r(3)], _ref(torch.where)),
    # normalisation
    Case("softmax", lambda a: mb.softmax(x=a, axis=1), [X * 3], _ref(lambda a: torch.softmax(a, 1))),
    Case("layer_norm", lambda a: mb.layer_norm(x=a, axes=[-1], gamma=r(4), beta=r(4), epsilon=1e-5), [X], None),
    Case("layer_norm", lambda a: mb.layer_norm(x=a, axes=[-2, -1], epsilon=1e-3), [X], _ref(lambda a: F.layer_norm(a, (3, 4), eps=1e-3)), tol=1e-5),
    Case("batch_norm", None, [IMG], None),
    # linear algebra, convolution
    Case("linear", None, [X], None),
    Case("matmul", lambda a, b: mb.matmul(x=a, y=b), [r(2, 3, 4), r(4, 5)], _ref(torch.matmul), tol=1e-5),
    Case("matmul", lambda a, b: mb.matmul(x=a, y=b, transpose_x=True, transpose_y=True), [r(2, 4, 3), r(1, 5, 4)], _ref(lambda a, b: a.transpose(-1, -2) @ b.transpose(-1, -2)), tol=1e-5),
    Case("conv", lambda a: mb.conv(x=a, weight=W2, bias=B2, strides=[2, 1], pad_type="custom", pad=[1, 2, 0, 1], dilations=[1, 2], groups=2), [IMG],
         _ref(lambda a: _conv_ref(a, T(W2), T(B2), [2, 1], [(1, 2), (0, 1)], [1, 2], 2)), tol=1e-5),
    Case("conv", lambda a: mb.conv(x=a, weight=W2[:, :, :, :], strides=[2, 2], pad_type="same", groups=2), [r(2, 4, 8, 9)],
         _ref(lambda a: _conv_ref(a, T(W2), None, [2, 2], [(0, 1), (1, 1)], [1, 1], 2)), tol=1e-5),
    Case("conv", lambda a: mb.conv(x=a, weight=W2, strides=[2, 2], pad_type="same_lower", groups=2), [r(2, 4, 8, 9)],
         _ref(lambda a: _conv_ref(a, T(W2), None, [2, 2], [(1, 0), (1, 1)], [1, 1], 2)), tol=1e-5),
    Case("conv", lambda a: mb.conv(x=a, weight=W1, pad_type="custom", pad=[1, 1], groups=4), [SEQ],
         _ref(lambda a: F.conv1d(a, T(W1), padding=1, groups=4)), tol=1e-5),
    Case("conv", None, [IMG], None),  # valid padding, no groups: see _special
    # reductions and scans
    *[Case(op, (lambda o, keep: lambda a: getattr(mb, o)(x=a, axes=[1], keep_dims=keep))(op, k), [POS], _ref(fn), tol=1e-5)
      for op, fn, k in [
          ("reduce_mean", lambda a: a.mean(1, keepdim=True), True),
          ("reduce_sum", lambda a: a.sum(1), False),
          ("reduce_max", lambda a: a.amax(1), False),
          ("reduce_min", lambda a: a.amin(1, keepdim=True), True),
          ("reduce_prod", lambda a: a.prod(1), False),
          ("reduce_sum_square", lambda a: (a * a).sum(1), False),
          ("reduce_l2_norm", lambda a: a.norm(dim=1), False),
      ]],
    Case("reduce_mean", lambda a: mb.reduce_mean(x=a, axes=[-2, -1], keep_dims=True), [IMG], _ref(lambda a: a.mean((2, 3), keepdim=True)), tol=1e-6),
    Case("cumsum", lambda a: mb.cumsum(x=a, axis=1), [X], _ref(lambda a: torch.cumsum(a, 1)), tol=1e-5),
    Case("cumsum", lambda a: mb.cumsum(x=a, axis=-1, exclusive=True, reverse=True), [X],
         _ref(lambda a: torch.cumsum(a.flip(-1), -1).flip(-1) - a), tol=1e-5),
    # shapes and data movement
    Case("reshape", lambda a: mb.reshape(x=a, shape=[0, -1, 2]), [X], lambda a: a.reshape(2, 6, 2), opset=ct.target.iOS15),
    # iOS17: a 0 copies the input size it is right-aligned with
    Case("reshape", lambda a: mb.reshape(x=a, shape=[0, -1]), [X], lambda a: a.reshape(3, 8)),
    Case("reshape", lambda a: mb.reshape(x=a, shape=[-1, 0, 1, 0]), [X], lambda a: a.reshape(3, 2, 1, 4)),
    Case("transpose", lambda a: mb.transpose(x=a, perm=[2, 0, 1]), [X], lambda a: a.transpose(2, 0, 1)),
    Case("expand_dims", lambda a: mb.expand_dims(x=a, axes=[0, -1]), [X], lambda a: a[None, ..., None]),
    Case("squeeze", lambda a: mb.squeeze(x=a, axes=[1]), [r(2, 1, 4)], lambda a: a[:, 0]),
    Case("slice_by_index", lambda a: mb.slice_by_index(x=a, begin=[1, 0, 1], end=[2, 3, -1], stride=[1, 2, 1]), [X], lambda a: a[1:2, 0:3:2, 1:-1]),
    Case("slice_by_index", lambda a: mb.slice_by_index(x=a, begin=[0, 1, 0], end=[0, 0, 3], begin_mask=[True, False, True], end_mask=[True, True, False]),
         [X], lambda a: a[:, 1:, :3]),
    Case("slice_by_index", lambda a: mb.slice_by_index(x=a, begin=[0, 2, 0], end=[2, 3, 4], squeeze_mask=[False, True, False]), [X], lambda a: a[:, 2, :]),
    Case("slice_by_size", lambda a: mb.slice_by_size(x=a, begin=[0, 1, 1], size=[-1, 2, 2]), [X], lambda a: a[:, 1:3, 1:3]),
    Case("concat", lambda a, b: mb.concat(values=[a, b, a], axis=1), [r(2, 3), r(2, 2)], lambda a, b: np.concatenate([a, b, a], 1)),
    Case("concat", lambda a, b: mb.concat(values=[a, b], axis=1, interleave=True), [r(2, 6), r(2, 6)],
         _ref(lambda a, b: torch.stack([a, b], 2).reshape(2, 12))),
    Case("stack", lambda a, b: mb.stack(values=[a, b], axis=1), [r(2, 3), r(2, 3)], _ref(lambda a, b: torch.stack([a, b], 1))),
    Case("split", lambda a: mb.split(x=a, num_splits=2, axis=-1), [X], _ref(lambda a: torch.split(a, 2, -1))),
    Case("split", lambda a: mb.split(x=a, split_sizes=[1, 2], axis=1), [X], _ref(lambda a: torch.split(a, [1, 2], 1))),
    Case("pad", lambda a: mb.pad(x=a, pad=[1, 2, 0, 3], mode="constant", constant_val=0.5), [X], _ref(lambda a: F.pad(a, (0, 3, 1, 2), value=0.5))),
    Case("pad", lambda a: mb.pad(x=a, pad=[0, 0, 2, 1, 1, 2], mode="reflect"), [X], _ref(lambda a: F.pad(a[None], (1, 2, 2, 1), mode="reflect")[0])),
    Case("pad", lambda a: mb.pad(x=a, pad=[2, 1], mode="replicate"), [X], _ref(lambda a: F.pad(a, (2, 1), mode="replicate"))),
    Case("tile", lambda a: mb.tile(x=a, reps=[1, 2, 3]), [X], _ref(lambda a: a.tile(1, 2, 3))),
    Case("identity", lambda a: mb.identity(x=a), [X], lambda a: a),
    Case("cast", lambda a: mb.cast(x=a, dtype="fp16"), [X], _ref(lambda a: a.half())),
    Case("cast", lambda a: mb.cast(x=a, dtype="int32"), [X * 3], _ref(lambda a: a.to(torch.int32))),
    Case("gather", lambda a: mb.gather(x=a, indices=np.array([2, -1, 0], np.int32), axis=1), [X], _ref(lambda a: a[:, [2, 2, 0]])),
    # symbolic shapes (enumerated input sizes): a shape, a size taken from it and arithmetic on it
    # stay scalars (0-d), and scalars concatenate into a shape vector
    Case("shape", lambda a: mb.shape(x=a), [X], lambda a: np.array(a.shape, np.int32)),
    Case("add", lambda a: mb.add(x=mb.gather(x=mb.shape(x=a), indices=1, axis=0), y=np.int32(-1)), [X], lambda a: np.int32(a.shape[1] - 1)),
    Case("concat", lambda a: mb.concat(values=[mb.gather(x=mb.shape(x=a), indices=2, axis=0), np.int32(-1)], axis=0), [X],
         lambda a: np.array([a.shape[2], -1], np.int32)),
    # classifier output
    Case("classify", None, [r(1, 4)], None),
    # activation quantization (iOS17): per tensor with a zero point, per channel without; a
    # value exactly half-way between two steps rounds to even (0.5 -> 0, 1.5 -> 2)
    Case("quantize", lambda a: mb.quantize(input=a, scale=np.float32(0.5), zero_point=np.uint8(128), output_dtype="uint8"),
         [np.array([[-70.0, -0.25, 0.25, 0.75, 1.0, 70.0]], np.float32)],
         lambda a: np.array([[0, 128, 128, 130, 130, 255]], np.uint8)),
    Case("quantize", lambda a: mb.quantize(input=a, scale=np.array([0.1, 0.5], np.float32), axis=1, output_dtype="int8"),
         [r(3, 2, 4, lo=-80.0, hi=80.0)],
         lambda a: np.clip(np.round(a / np.array([0.1, 0.5], np.float32).reshape(1, 2, 1)), -128, 127).astype(np.int8)),
    Case("dequantize", lambda a: mb.dequantize(input=a, scale=np.float32(0.25), zero_point=np.int8(-3)),
         [np.array([[-128, -3, 0, 127]], np.int8)],
         lambda a: (a.astype(np.float32) + 3.0) * 0.25),
    Case("dequantize", lambda a: mb.dequantize(input=a, scale=np.array([0.5, 2.0, 0.125], np.float32), zero_point=np.array([0, 10, 255], np.uint8), axis=0),
         [np.array([[0, 255], [10, 11], [255, 0]], np.uint8)],
         lambda a: (a.astype(np.float32) - np.array([[0], [10], [255]], np.float32)) * np.array([[0.5], [2.0], [0.125]], np.float32)),
    # compressed constants: the program adds the expanded constant to a zero input
    Case("constexpr_affine_dequantize",
         lambda z: mb.add(x=z, y=mb.constexpr_affine_dequantize(quantized_data=Q8, zero_point=ZP8, scale=SC, axis=0)),
         [np.zeros((4, 6), np.float32)], lambda z: SC[:, None] * (Q8.astype(np.float32) - ZP8[:, None]), opset=ct.target.iOS16),
    Case("constexpr_blockwise_shift_scale",
         lambda z: mb.add(x=z, y=mb.constexpr_blockwise_shift_scale(data=BLOCK_DATA, scale=BLOCK_SCALE, offset=BLOCK_OFFSET)),
         [np.zeros((4, 6), np.float32)], lambda z: _blockwise_ref(BLOCK_DATA, BLOCK_SCALE, BLOCK_OFFSET), opset=ct.target.iOS18),
    Case("constexpr_lut_to_dense",
         lambda z: mb.add(x=z, y=mb.constexpr_lut_to_dense(indices=_pack_lsb_first(IDX4, 4), lut=LUT16, shape=np.array([5, 6], np.uint32))),
         [np.zeros((5, 6), np.float32)], lambda z: LUT16[IDX4].reshape(5, 6), opset=ct.target.iOS16),
    Case("constexpr_lut_to_dense",
         lambda z: mb.add(x=z, y=mb.constexpr_lut_to_dense(indices=_uint(IDX_GROUPS, 4), lut=LUT_GROUPS)),
         [np.zeros((4, 6), np.float32)], lambda z: _lut_group_ref(), opset=ct.target.iOS18),
    Case("constexpr_lut_to_dense",
         lambda z: mb.add(x=z, y=mb.constexpr_lut_to_dense(indices=_uint(IDX_VEC, 2), lut=LUT_VEC, vector_axis=0)),
         [np.zeros((6, 4), np.float32)], lambda z: _lut_vector_ref(), opset=ct.target.iOS18),
    Case("constexpr_sparse_to_dense",
         lambda z: mb.add(x=z, y=mb.constexpr_sparse_to_dense(nonzero_data=r(int(MASK.sum())), mask=_pack_lsb_first(MASK.reshape(-1).astype(np.uint8), 1), shape=np.array([5, 6], np.uint32))),
         [np.zeros((5, 6), np.float32)], None, opset=ct.target.iOS16),
    Case("constexpr_cast",
         lambda z: mb.add(x=z, y=mb.constexpr_cast(source_val=X.astype(np.float16), output_dtype="fp32")),
         [np.zeros((2, 3, 4), np.float32)], lambda z: X.astype(np.float16).astype(np.float32), opset=ct.target.iOS16),
]


def _special(case: Case) -> tuple[Callable, Callable]:
    """Cases whose builder and reference share random constants."""
    if case.op == "layer_norm" and case.reference is None:
        gamma, beta = r(4), r(4)
        return (lambda a: mb.layer_norm(x=a, axes=[-1], gamma=gamma, beta=beta, epsilon=1e-5),
                _ref(lambda a: F.layer_norm(a, (4,), T(gamma), T(beta), eps=1e-5)))
    if case.op == "batch_norm":
        mean, var, gamma, beta = r(4), r(4, lo=0.5, hi=2.0), r(4), r(4)
        return (lambda a: mb.batch_norm(x=a, mean=mean, variance=var, gamma=gamma, beta=beta, epsilon=1e-4),
                _ref(lambda a: F.batch_norm(a, T(mean), T(var), T(gamma), T(beta), eps=1e-4)))
    if case.op == "linear":
        weight, bias = r(5, 4), r(5)
        return (lambda a: mb.linear(x=a, weight=weight, bias=bias), _ref(lambda a: F.linear(a, T(weight), T(bias))))
    if case.op == "conv":
        weight = r(5, 4, 2, 2)
        return (lambda a: mb.conv(x=a, weight=weight, pad_type="valid"), _ref(lambda a: F.conv2d(a, T(weight))))
    if case.op == "constexpr_sparse_to_dense":
        data = r(int(MASK.sum()))
        expected = np.zeros((5, 6), np.float32)
        expected[MASK] = data
        packed = _pack_lsb_first(MASK.reshape(-1).astype(np.uint8), 1)
        return (lambda z: mb.add(x=z, y=mb.constexpr_sparse_to_dense(nonzero_data=data, mask=packed, shape=np.array([5, 6], np.uint32))),
                lambda z: expected)
    raise AssertionError(case.op)


@pytest.mark.parametrize("case", [c for c in CASES if c.op != "classify"], ids=lambda c: c.id)
def test_op_matches_reference_fp32(case: Case) -> None:
    build, reference = (case.build, case.reference) if case.reference is not None else _special(case)
    outputs = run_program(build, case.inputs, case.opset)
    expected = reference(*case.inputs)
    expected = expected if isinstance(expected, list) else [expected]
    assert len(outputs) == len(expected)
    for out, ref in zip(outputs, expected):
        ref = np.asarray(ref)
        assert out.shape == ref.shape, (case.op, out.shape, ref.shape)
        if ref.dtype.kind in "biu":
            np.testing.assert_array_equal(out, ref)
        else:
            assert out.dtype == ref.dtype or ref.dtype == np.float32
            np.testing.assert_allclose(out.astype(np.float64), ref.astype(np.float64), rtol=case.tol, atol=case.tol)


def test_classify_gives_the_top_label_and_every_probability() -> None:
    probabilities = np.array([[0.1, 0.6, 0.2, 0.1]], np.float32)
    classes = mil_list(["a", "b", "c", "d"])
    label, table = run_program(lambda p: mb.classify(probabilities=p, classes=mb.const(val=classes)), [probabilities])
    assert label == "b"
    assert table == pytest.approx({"a": 0.1, "b": 0.6, "c": 0.2, "d": 0.1})


def test_every_registered_op_has_a_case() -> None:
    assert set(OPS) == {c.op for c in CASES}


def test_packed_indices_match_coremltools_packing() -> None:
    from coremltools.optimize import _utils as optimize_utils

    for nbits in (1, 2, 4, 6, 8):
        values = RNG.integers(0, 2**nbits, 37).astype(np.uint8)
        packed = optimize_utils.pack_elements_into_bits(values, nbits)
        np.testing.assert_array_equal(packed, _pack_lsb_first(values, nbits))
        np.testing.assert_array_equal(unpack_bits(packed, nbits, 37), values)


# ------------------------------------------------------------------ fp16 programs: results rounded like PyTorch's half ops

HALF = [
    ("add", lambda a, b: mb.add(x=a, y=b), 2, torch.add),
    ("mul", lambda a, b: mb.mul(x=a, y=b), 2, torch.mul),
    ("real_div", lambda a, b: mb.real_div(x=a, y=b), 2, torch.true_divide),
    ("exp", lambda a: mb.exp(x=a), 1, torch.exp),
    ("sigmoid", lambda a: mb.sigmoid(x=a), 1, torch.sigmoid),
    ("gelu", lambda a: mb.gelu(x=a, mode="EXACT"), 1, F.gelu),
    ("gelu", lambda a: mb.gelu(x=a, mode="TANH_APPROXIMATION"), 1, lambda a: F.gelu(a, approximate="tanh")),
    ("softmax", lambda a: mb.softmax(x=a, axis=-1), 1, lambda a: torch.softmax(a, -1)),
    ("layer_norm", lambda a: mb.layer_norm(x=a, axes=[-1], epsilon=np.float16(1e-5)), 1, lambda a: F.layer_norm(a, (a.shape[-1],), eps=1e-5)),
    ("matmul", lambda a, b: mb.matmul(x=a, y=b, transpose_y=True), 2, lambda a, b: a @ b.transpose(-1, -2)),
    ("reduce_mean", lambda a: mb.reduce_mean(x=a, axes=[-1]), 1, lambda a: a.mean(-1)),
]


@pytest.mark.parametrize("op, build, arity, torch_fn", HALF, ids=[h[0] for h in HALF])
def test_fp16_op_is_computed_and_rounded_like_pytorch_half(op, build, arity, torch_fn) -> None:
    inputs = [r(4, 16, 32, lo=0.5 if op == "real_div" and i else -3.0, hi=3.0).astype(np.float16) for i in range(arity)]
    (out,) = run_program(build, inputs)
    assert out.dtype == np.float16
    expected = torch_fn(*[T(a) for a in inputs]).numpy()  # PyTorch's own fp16 CPU kernels
    assert expected.dtype == np.float16
    ulp = np.spacing(np.abs(expected).astype(np.float16)).astype(np.float32)
    diff = np.abs(out.astype(np.float32) - expected.astype(np.float32))
    assert np.all(diff <= 2 * ulp + 1e-7), (op, float((diff / np.maximum(ulp, 1e-12)).max()))


def test_fp16_rounding_is_visible() -> None:
    """fp16 ops round their results: x + y in fp16 differs from the fp32 sum."""
    x, y = r(64), r(64)
    (out,) = run_program(lambda a, b: mb.add(x=a, y=b), [x.astype(np.float16), y.astype(np.float16)])
    exact = x.astype(np.float16).astype(np.float32) + y.astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(out, exact.astype(np.float16))
    assert np.any(out.astype(np.float32) != exact)


# ------------------------------------------------------------------ refusals


def test_unknown_op_is_an_error_naming_it(monkeypatch) -> None:
    monkeypatch.delitem(OPS, "relu")
    program = mb.program(input_specs=[mb.TensorSpec(shape=(2, 3))], opset_version=ct.target.iOS17)(lambda x: mb.relu(x=x))
    with pytest.raises(UnsupportedOperation, match="MIL op 'relu'"):
        MILInterpreter(program)


def test_wrong_input_shape_is_an_error() -> None:
    program = mb.program(input_specs=[mb.TensorSpec(shape=(2, 3))], opset_version=ct.target.iOS17)(lambda x: mb.relu(x=x))
    with pytest.raises(ValueError, match=r"shape \(3, 2\)"):
        MILInterpreter(program).predict({"x": np.zeros((3, 2), np.float32)})


def test_rsqrt_default_epsilon_matches_the_mil_definition() -> None:
    (out,) = run_program(lambda a: mb.rsqrt(x=a), [POS])
    np.testing.assert_allclose(out, 1.0 / np.sqrt(POS + 1e-12), rtol=1e-6)
    assert math.isfinite(float(out.max()))
