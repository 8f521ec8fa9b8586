"""Reference semantics of the MIL operations the interpreter knows (numpy / PyTorch, explicit).

Each function takes an `OpArgs` (the op's resolved input values) and returns the op's output
value(s); the interpreter then casts each output to the dtype the program declares for it, which
is where fp16 rounding happens. Floating-point arithmetic inside an op is fp32 (fp16 inputs are
widened exactly). Semantics follow the MIL op definitions of coremltools 9
(`coremltools/converters/mil/mil/ops/defs`), including their defaults for optional inputs.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

OpFn = Callable[["OpArgs"], Any]
OPS: dict[str, OpFn] = {}
"""op type -> implementation. Unknown types are refused by the interpreter, never skipped."""


def register(*names: str) -> Callable[[OpFn], OpFn]:
    """Register an implementation under one or more MIL op type names."""

    def wrap(fn: OpFn) -> OpFn:
        for name in names:
            OPS[name] = fn
        return fn

    return wrap


class OpArgs:
    """An op's input values by name (numpy arrays, scalars, strings or lists), and its type."""

    def __init__(self, op_type: str, name: str, values: dict[str, Any], out_dtypes: list[Any]) -> None:
        self.op_type = op_type
        self.name = name
        self.values = values
        self.out_dtypes = out_dtypes  # numpy dtypes of the outputs (None for non-tensors)

    def has(self, key: str) -> bool:
        """Whether the optional input `key` was given."""
        return self.values.get(key) is not None

    def get(self, key: str, default: Any = None) -> Any:
        """The raw value of input `key` (or `default` when it was not given)."""
        value = self.values.get(key)
        return default if value is None else value

    def array(self, key: str) -> np.ndarray:
        """Input `key` as a numpy array (its own dtype)."""
        return np.asarray(self.values[key])

    def scalar(self, key: str, default: Any = None) -> Any:
        """Input `key` as a Python scalar."""
        value = self.get(key, default)
        return value.item() if isinstance(value, np.ndarray | np.generic) else value

    def ints(self, key: str, default: Any = None) -> list[int] | None:
        """Input `key` as a list of ints (None when absent and no default)."""
        value = self.get(key, default)
        if value is None:
            return None
        return [int(v) for v in np.asarray(value).reshape(-1)]

    def tensor(self, key: str) -> torch.Tensor:
        """Input `key` as a torch tensor: floating types widened to fp32 (exact for fp16)."""
        return _torch(self.values[key])


def _torch(value: Any) -> torch.Tensor:
    """A value as a torch tensor of the same shape (np.ascontiguousarray alone makes a scalar 1-d)."""
    array = np.asarray(value)
    if array.dtype.kind == "f":
        contiguous = np.ascontiguousarray(array, dtype=np.float32)
    elif array.dtype == np.bool_:
        contiguous = np.ascontiguousarray(array)
    else:
        contiguous = np.ascontiguousarray(array.astype(np.int64))
    return torch.from_numpy(contiguous.reshape(array.shape))


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


# ------------------------------------------------------------------ elementwise, binary (broadcasting)

_BINARY: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "add": torch.add,
    "sub": torch.sub,
    "mul": torch.mul,
    "real_div": torch.true_divide,
    "pow": torch.pow,
    "maximum": torch.maximum,
    "minimum": torch.minimum,
    "floor_div": lambda x, y: torch.floor(torch.true_divide(x, y)),
    "equal": torch.eq,
    "not_equal": torch.ne,
    "less": torch.lt,
    "less_equal": torch.le,
    "greater": torch.gt,
    "greater_equal": torch.ge,
    "logical_and": torch.logical_and,
    "logical_or": torch.logical_or,
    "logical_xor": torch.logical_xor,
}


def _binary(args: OpArgs) -> torch.Tensor:
    x, y = args.tensor("x"), args.tensor("y")
    if args.op_type == "real_div" or args.op_type == "pow":
        x, y = x.float(), y.float()
    return _BINARY[args.op_type](x, y)


register(*_BINARY)(_binary)


@register("logical_not")
def _logical_not(args: OpArgs) -> torch.Tensor:
    return torch.logical_not(args.tensor("x"))


# ------------------------------------------------------------------ elementwise, unary

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)

_UNARY: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "relu6": lambda x: torch.clamp(x, 0.0, 6.0),
    "sigmoid": torch.sigmoid,
    "silu": lambda x: x * torch.sigmoid(x),
    "tanh": torch.tanh,
    "exp": torch.exp,
    "exp2": torch.exp2,
    "abs": torch.abs,
    "sqrt": torch.sqrt,
    "square": torch.square,
    "erf": torch.erf,
    "softplus": F.softplus,
    "floor": torch.floor,
    "ceil": torch.ceil,
    "sign": torch.sign,
    "sin": torch.sin,
    "cos": torch.cos,
}


def _unary(args: OpArgs) -> torch.Tensor:
    return _UNARY[args.op_type](args.tensor("x"))


register(*_UNARY)(_unary)


@register("log")
def _log(args: OpArgs) -> np.ndarray:
    """log(x + epsilon); epsilon defaults to 1e-45 in x's dtype (0 in fp16)."""
    x = args.array("x")
    epsilon = np.asarray(args.get("epsilon", 1e-45), dtype=x.dtype)
    return _np(torch.log(_torch(x) + _torch(epsilon)))


@register("rsqrt")
def _rsqrt(args: OpArgs) -> torch.Tensor:
    """1 / sqrt(x + epsilon), epsilon default 1e-12."""
    return torch.rsqrt(args.tensor("x") + float(args.scalar("epsilon", 1e-12)))


@register("inverse")
def _inverse(args: OpArgs) -> torch.Tensor:
    """1 / (x + epsilon), epsilon default 1e-4."""
    return 1.0 / (args.tensor("x") + float(args.scalar("epsilon", 1e-4)))


@register("clip")
def _clip(args: OpArgs) -> torch.Tensor:
    """min(max(x, alpha), beta)."""
    return torch.clamp(args.tensor("x"), float(args.scalar("alpha")), float(args.scalar("beta")))


@register("leaky_relu")
def _leaky_relu(args: OpArgs) -> torch.Tensor:
    """x if x >= 0 else alpha * x (alpha default 0.01)."""
    return F.leaky_relu(args.tensor("x"), float(args.scalar("alpha", 0.01)))


@register("gelu")
def _gelu(args: OpArgs) -> torch.Tensor:
    """EXACT (erf), TANH_APPROXIMATION or SIGMOID_APPROXIMATION (x * sigmoid(1.702 x))."""
    x = args.tensor("x")
    mode = args.scalar("mode", "EXACT")
    if mode == "EXACT":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if mode == "TANH_APPROXIMATION":
        return 0.5 * x * (1.0 + torch.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
    if mode == "SIGMOID_APPROXIMATION":
        return x * torch.sigmoid(1.702 * x)
    raise ValueError(f"gelu op {args.name}: unknown mode {mode!r}")


@register("select")
def _select(args: OpArgs) -> torch.Tensor:
    """cond ? a : b with broadcasting."""
    cond = args.tensor("cond")
    a, b = args.tensor("a"), args.tensor("b")
    return torch.where(cond.bool() if cond.dtype != torch.bool else cond, a, b)


# ------------------------------------------------------------------ normalisation and activation over axes


@register("softmax")
def _softmax(args: OpArgs) -> torch.Tensor:
    """exp(x - max) / sum, over `axis` (default -1)."""
    return torch.softmax(args.tensor("x"), dim=int(args.scalar("axis", -1)))


@register("layer_norm")
def _layer_norm(args: OpArgs) -> torch.Tensor:
    """(x - mean) / sqrt(var + epsilon) * gamma + beta over `axes` (biased variance)."""
    x = args.tensor("x")
    axes = args.ints("axes")
    axes = list(range(x.dim())) if axes is None else [a % x.dim() for a in axes]
    mean = x.mean(dim=axes, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=axes, keepdim=True)
    y = (x - mean) / torch.sqrt(var + float(args.scalar("epsilon", 1e-5)))
    shape = [x.shape[d] if d in axes else 1 for d in range(x.dim())]
    if args.has("gamma"):
        y = y * args.tensor("gamma").reshape(shape)
    if args.has("beta"):
        y = y + args.tensor("beta").reshape(shape)
    return y


@register("batch_norm")
def _batch_norm(args: OpArgs) -> torch.Tensor:
    """(x - mean) / sqrt(variance + epsilon) * gamma + beta, channel axis 1."""
    x = args.tensor("x")
    shape = [1, x.shape[1]] + [1] * (x.dim() - 2)
    y = (x - args.tensor("mean").reshape(shape)) / torch.sqrt(args.tensor("variance").reshape(shape) + float(args.scalar("epsilon", 1e-5)))
    if args.has("gamma"):
        y = y * args.tensor("gamma").reshape(shape)
    if args.has("beta"):
        y = y + args.tensor("beta").reshape(shape)
    return y


# ------------------------------------------------------------------ linear algebra and convolution


@register("linear")
def _linear(args: OpArgs) -> torch.Tensor:
    """x @ weight^T + bias; weight (D_out, D_in)."""
    bias = args.tensor("bias") if args.has("bias") else None
    return F.linear(args.tensor("x"), args.tensor("weight"), bias)


@register("matmul")
def _matmul(args: OpArgs) -> torch.Tensor:
    """Batched matmul with numpy broadcasting; transpose_x / transpose_y swap the last two axes."""
    x, y = args.tensor("x"), args.tensor("y")
    if bool(args.scalar("transpose_x", False)) and x.dim() > 1:
        x = x.transpose(-1, -2)
    if bool(args.scalar("transpose_y", False)) and y.dim() > 1:
        y = y.transpose(-1, -2)
    return torch.matmul(x, y)


def conv_padding(pad_type: str, in_sizes: list[int], kernel: list[int], strides: list[int], dilations: list[int], custom: list[int] | None) -> list[tuple[int, int]]:
    """(before, after) padding per spatial axis for MIL's pad_type valid / custom / same / same_lower."""
    if pad_type == "valid":
        return [(0, 0)] * len(in_sizes)
    if pad_type == "custom":
        assert custom is not None
        return [(custom[2 * i], custom[2 * i + 1]) for i in range(len(in_sizes))]
    if pad_type not in ("same", "same_lower"):
        raise ValueError(f"unknown pad_type {pad_type!r}")
    pads = []
    for size, k, s, d in zip(in_sizes, kernel, strides, dilations):
        effective = (k - 1) * d + 1
        total = max(0, s * math.ceil(size / s) - size + effective - s)
        small, big = total // 2, total - total // 2
        pads.append((small, big) if pad_type == "same" else (big, small))
    return pads


@register("conv")
def _conv(args: OpArgs) -> torch.Tensor:
    """N-d convolution (1, 2 or 3 spatial axes), channels first, grouped, dilated, padded."""
    x, weight = args.tensor("x"), args.tensor("weight")
    spatial = x.dim() - 2
    strides = args.ints("strides") or [1] * spatial
    dilations = args.ints("dilations") or [1] * spatial
    groups = int(args.scalar("groups", 1))
    pads = conv_padding(str(args.scalar("pad_type", "valid")), list(x.shape[2:]), list(weight.shape[2:]), strides, dilations, args.ints("pad"))
    flat = [p for pair in reversed(pads) for p in pair]  # F.pad wants the last axis first
    if any(flat):
        x = F.pad(x, flat)
    bias = args.tensor("bias") if args.has("bias") else None
    fn = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[spatial]
    return fn(x, weight, bias, stride=strides, dilation=dilations, groups=groups)


# ------------------------------------------------------------------ reductions and scans


def _reduce_axes(args: OpArgs, rank: int) -> list[int]:
    axes = args.ints("axes")
    return list(range(rank)) if axes is None else [a % rank for a in axes]


_REDUCE: dict[str, Callable[[torch.Tensor, list[int], bool], torch.Tensor]] = {
    "reduce_mean": lambda x, axes, keep: x.mean(dim=axes, keepdim=keep),
    "reduce_sum": lambda x, axes, keep: x.sum(dim=axes, keepdim=keep),
    "reduce_max": lambda x, axes, keep: torch.amax(x, dim=axes, keepdim=keep),
    "reduce_min": lambda x, axes, keep: torch.amin(x, dim=axes, keepdim=keep),
    "reduce_prod": lambda x, axes, keep: _prod(x, axes, keep),
    "reduce_sum_square": lambda x, axes, keep: (x * x).sum(dim=axes, keepdim=keep),
    "reduce_l2_norm": lambda x, axes, keep: torch.sqrt((x * x).sum(dim=axes, keepdim=keep)),
}


def _prod(x: torch.Tensor, axes: list[int], keep: bool) -> torch.Tensor:
    for axis in sorted(axes, reverse=True):
        x = x.prod(dim=axis, keepdim=keep)
    return x


def _reduce(args: OpArgs) -> torch.Tensor:
    x = args.tensor("x")
    return _REDUCE[args.op_type](x, _reduce_axes(args, x.dim()), bool(args.scalar("keep_dims", False)))


register(*_REDUCE)(_reduce)


@register("cumsum")
def _cumsum(args: OpArgs) -> torch.Tensor:
    """Cumulative sum along `axis` (default 0), optionally exclusive and/or reversed."""
    x = args.tensor("x")
    axis = int(args.scalar("axis", 0)) % x.dim()
    if bool(args.scalar("reverse", False)):
        x = x.flip(axis)
    y = torch.cumsum(x, dim=axis)
    if bool(args.scalar("exclusive", False)):
        y = y - x
    if bool(args.scalar("reverse", False)):
        y = y.flip(axis)
    return y


# ------------------------------------------------------------------ shape and data movement (exact in any dtype)


@register("reshape")
def _reshape(args: OpArgs) -> np.ndarray:
    """Reshape; one -1 is inferred; a 0 copies the input size it is right-aligned with (iOS17
    rule, the same as iOS15's when len(shape) == rank), or 1 when there is none."""
    x = args.array("x")
    shape = args.ints("shape")
    offset = x.ndim - len(shape)
    shape = [(x.shape[i + offset] if i + offset >= 0 else 1) if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


@register("shape")
def _shape(args: OpArgs) -> np.ndarray:
    """The input's shape as an int32 vector (symbolic sizes of an enumerated-shape input)."""
    return np.asarray(args.array("x").shape, dtype=np.int32)


@register("transpose")
def _transpose(args: OpArgs) -> np.ndarray:
    return np.transpose(args.array("x"), args.ints("perm"))


@register("expand_dims")
def _expand_dims(args: OpArgs) -> np.ndarray:
    """Insert size-1 axes; `axes` refer to the output rank (negative allowed)."""
    x = args.array("x")
    axes = args.ints("axes")
    rank = x.ndim + len(axes)
    for axis in sorted(a % rank for a in axes):
        x = np.expand_dims(x, axis)
    return x


@register("squeeze")
def _squeeze(args: OpArgs) -> np.ndarray:
    """Drop size-1 axes (all of them when `axes` is not given)."""
    x = args.array("x")
    axes = args.ints("axes")
    if axes is None:
        return np.squeeze(x)
    return np.squeeze(x, axis=tuple(a % x.ndim for a in axes))


@register("slice_by_index")
def _slice_by_index(args: OpArgs) -> np.ndarray:
    """Python-style slicing per axis with begin/end masks; squeeze_mask takes one element and drops the axis."""
    x = args.array("x")
    rank = x.ndim
    begin = args.ints("begin")
    end = args.ints("end")
    stride = args.ints("stride") or [1] * rank
    begin_mask = [bool(v) for v in args.get("begin_mask", [False] * rank)]
    end_mask = [bool(v) for v in args.get("end_mask", [False] * rank)]
    squeeze_mask = [bool(v) for v in args.get("squeeze_mask", [False] * rank)]
    slices = []
    for axis in range(rank):
        if squeeze_mask[axis]:
            slices.append(begin[axis])
            continue
        start = None if begin_mask[axis] else begin[axis]
        stop = None if end_mask[axis] else end[axis]
        slices.append(slice(start, stop, stride[axis]))
    return np.asarray(x[tuple(slices)])


@register("slice_by_size")
def _slice_by_size(args: OpArgs) -> np.ndarray:
    """x[begin : begin + size] per axis; size -1 takes the rest."""
    x = args.array("x")
    begin, size = args.ints("begin"), args.ints("size")
    slices = tuple(slice(b, None if s == -1 else b + s) for b, s in zip(begin, size))
    return x[slices]


@register("concat")
def _concat(args: OpArgs) -> np.ndarray:
    """Concatenate along `axis`; interleave=True alternates equal-sized pieces of the inputs.
    Scalars (sizes of a symbolic shape) concatenate into a vector."""
    values = [np.asarray(v) for v in args.get("values")]
    if all(v.ndim == 0 for v in values):
        return np.stack(values)
    axis = int(args.scalar("axis")) % values[0].ndim
    if not bool(args.scalar("interleave", False)):
        return np.concatenate(values, axis=axis)
    stacked = np.stack(values, axis=axis + 1)
    shape = list(values[0].shape)
    shape[axis] = sum(v.shape[axis] for v in values)
    return stacked.reshape(shape)


@register("stack")
def _stack(args: OpArgs) -> np.ndarray:
    values = [np.asarray(v) for v in args.get("values")]
    return np.stack(values, axis=int(args.scalar("axis")))


@register("split")
def _split(args: OpArgs) -> tuple[np.ndarray, ...]:
    """Split along `axis` into `num_splits` equal parts or parts of `split_sizes`."""
    x = args.array("x")
    axis = int(args.scalar("axis")) % x.ndim
    sizes = args.ints("split_sizes")
    if sizes is None:
        parts = int(args.scalar("num_splits"))
        sizes = [x.shape[axis] // parts] * parts
    bounds = np.cumsum(sizes)[:-1]
    return tuple(np.split(x, bounds, axis=axis))


@register("pad")
def _pad(args: OpArgs) -> np.ndarray:
    """Pad the last len(pad)/2 axes; mode constant (constant_val), reflect or replicate."""
    x = args.array("x")
    pad = args.ints("pad")
    pairs = [(0, 0)] * (x.ndim - len(pad) // 2) + [(pad[2 * i], pad[2 * i + 1]) for i in range(len(pad) // 2)]
    mode = str(args.scalar("mode", "constant"))
    if mode == "constant":
        return np.pad(x, pairs, mode="constant", constant_values=np.asarray(args.get("constant_val", 0), dtype=x.dtype))
    if mode in ("reflect", "replicate"):
        return np.pad(x, pairs, mode="reflect" if mode == "reflect" else "edge")
    raise ValueError(f"pad op {args.name}: unknown mode {mode!r}")


@register("tile")
def _tile(args: OpArgs) -> np.ndarray:
    return np.tile(args.array("x"), args.ints("reps"))


@register("identity")
def _identity(args: OpArgs) -> np.ndarray:
    return args.array("x")


@register("cast")
def _cast(args: OpArgs) -> np.ndarray:
    """Convert to `dtype` (fp16/fp32/int32/bool/...); the interpreter applies the declared dtype."""
    return args.array("x")


@register("gather")
def _gather(args: OpArgs) -> np.ndarray:
    """x taken at `indices` along `axis` (negative indices wrap)."""
    x = args.array("x")
    if int(args.scalar("batch_dims", 0)) != 0:
        raise NotImplementedError(f"gather op {args.name}: batch_dims != 0 is not implemented")
    axis = int(args.scalar("axis", 0)) % x.ndim
    indices = args.array("indices").astype(np.int64)
    indices = np.where(indices < 0, indices + x.shape[axis], indices)
    return np.take(x, indices, axis=axis)


# ------------------------------------------------------------------ classifier output


@register("classify")
def _classify(args: OpArgs) -> tuple[Any, dict]:
    """(label of the largest probability, {label: probability}) over the flattened `probabilities`."""
    probabilities = args.array("probabilities").astype(np.float64).reshape(-1)
    classes = list(args.get("classes"))
    classes = [c.item() if isinstance(c, np.generic) else c for c in classes]
    if len(classes) != probabilities.size:
        raise ValueError(f"classify op {args.name}: {len(classes)} classes for {probabilities.size} probabilities")
    table = {label: float(p) for label, p in zip(classes, probabilities)}
    return classes[int(np.argmax(probabilities))], table


# ------------------------------------------------------------------ activation quantization (iOS17, W8A8 programs)


def _per_axis(values: np.ndarray, rank: int, axis: Any) -> np.ndarray:
    """A scale / zero point: scalar as is, vector reshaped to broadcast along `axis`."""
    values = np.asarray(values, dtype=np.float32)
    if values.ndim == 0 or values.size == 1 and axis is None:
        return values.reshape(())
    shape = [1] * rank
    shape[int(axis) % rank] = values.size
    return values.reshape(shape)


@register("quantize")
def _quantize(args: OpArgs) -> np.ndarray:
    """iOS17: clip(round(input / scale) + zero_point) in int8 / uint8 (round half to even, as
    coremltools' reference); scale / zero_point scalar or per `axis`."""
    data = args.array("input").astype(np.float32)
    axis = args.scalar("axis")
    dtype = {"int8": np.int8, "uint8": np.uint8}[str(args.scalar("output_dtype"))]
    out = np.round(data / _per_axis(args.array("scale"), data.ndim, axis))
    if args.has("zero_point"):
        out = out + _per_axis(args.array("zero_point"), data.ndim, axis)
    info = np.iinfo(dtype)
    return np.clip(out, info.min, info.max).astype(dtype)


@register("dequantize")
def _dequantize(args: OpArgs) -> np.ndarray:
    """iOS17: scale * (input - zero_point), in the scale's float type."""
    data = args.array("input")
    axis = args.scalar("axis")
    values = data.astype(np.float32)
    if args.has("zero_point"):
        values = values - _per_axis(args.array("zero_point"), data.ndim, axis)
    return values * _per_axis(args.array("scale"), data.ndim, axis)


# ------------------------------------------------------------------ compressed constants (expanded as Core ML does at load)


@register("constexpr_affine_dequantize")
def _constexpr_affine_dequantize(args: OpArgs) -> np.ndarray:
    """iOS16: scale * (quantized_data - zero_point); scale / zero_point scalar or per `axis`."""
    data = args.array("quantized_data")
    axis = int(args.scalar("axis")) % data.ndim
    shape = [1] * data.ndim
    scale, zero_point = args.array("scale"), args.array("zero_point")
    if scale.ndim == 1:
        shape[axis] = scale.size
        scale = scale.reshape(shape)
    if zero_point.ndim == 1:
        shape[axis] = zero_point.size
        zero_point = zero_point.reshape(shape)
    out = scale.astype(np.float32) * (data.astype(np.float32) - zero_point.astype(np.float32))
    return out


@register("constexpr_blockwise_shift_scale")
def _constexpr_blockwise_shift_scale(args: OpArgs) -> np.ndarray:
    """iOS18: scale * (data - offset), scale/offset broadcast over blocks of data.shape / scale.shape."""
    data = args.array("data").astype(np.float32)
    scale = args.array("scale").astype(np.float32)
    offset = args.array("offset").astype(np.float32) if args.has("offset") else None
    for axis, (d, s) in enumerate(zip(data.shape, scale.shape)):
        if d != s:
            scale = np.repeat(scale, d // s, axis=axis)
            if offset is not None:
                offset = np.repeat(offset, d // s, axis=axis)
    return scale * (data - offset if offset is not None else data)


def unpack_bits(packed: np.ndarray, nbits: int, count: int) -> np.ndarray:
    """Indices packed LSB-first into bytes (iOS16 lut_to_dense, sparse masks) -> uint values."""
    bits = np.unpackbits(np.asarray(packed, dtype=np.uint8), bitorder="little")[: count * nbits]
    weights = (1 << np.arange(nbits)).astype(np.uint32)
    return (bits.reshape(count, nbits).astype(np.uint32) * weights).sum(axis=1)


@register("constexpr_lut_to_dense")
def _constexpr_lut_to_dense(args: OpArgs) -> np.ndarray:
    """Palettized weights: iOS16 (packed uint8 indices, one LUT, `shape`) or iOS18 (sub-byte
    indices of the output's shape, per-block LUTs of shape [*blocks, 2^nbits, VECTOR_SIZE])."""
    lut = args.array("lut")
    if args.has("shape"):  # iOS16
        shape = args.ints("shape")
        nbits = int(round(math.log2(lut.size)))
        indices = unpack_bits(args.array("indices"), nbits, int(np.prod(shape)))
        return lut[indices].reshape(shape)
    indices = args.array("indices").astype(np.int64)
    rank = indices.ndim
    palettes, vector = lut.shape[-2], lut.shape[-1]
    block = [i // g for i, g in zip(indices.shape, lut.shape[:rank])]
    # the LUT of each element: its block coordinates along every axis
    grids = np.meshgrid(*[np.arange(n) // b for n, b in zip(indices.shape, block)], indexing="ij")
    values = lut[tuple(grids) + (indices,)]  # (*indices.shape, VECTOR_SIZE)
    if vector == 1:
        return values[..., 0]
    axis = int(args.scalar("vector_axis")) % rank
    values = np.moveaxis(values, -1, axis + 1)  # vector elements follow their index along the axis
    shape = list(indices.shape)
    shape[axis] *= vector
    return values.reshape(shape)


@register("constexpr_sparse_to_dense")
def _constexpr_sparse_to_dense(args: OpArgs) -> np.ndarray:
    """Unstructured sparsity: iOS16 packed bit mask + `shape`, or iOS18 uint1 mask tensor."""
    data = args.array("nonzero_data")
    if args.has("shape"):
        shape = args.ints("shape")
        mask = unpack_bits(args.array("mask"), 1, int(np.prod(shape))).reshape(shape)
    else:
        mask = args.array("mask")
    out = np.zeros(mask.shape, dtype=data.dtype)
    out[mask != 0] = data
    return out


@register("constexpr_cast")
def _constexpr_cast(args: OpArgs) -> np.ndarray:
    """fp16 constant widened to `output_dtype` (fp32)."""
    return args.array("source_val").astype(np.float32)
