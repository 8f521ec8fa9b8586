"""A reference interpreter for Core ML ML programs, so CoreML artifacts can be checked on Linux.

Core ML itself (``MLModel.predict``) only exists on Apple platforms. This package reads a saved
``.mlpackage`` (its ML program and weight blobs, through coremltools' own proto reader) and
evaluates every MIL operation with explicit numpy/PyTorch reference semantics, in the precision
the program declares:

- each op's result is produced in the dtype its output is declared with (fp16 ops round their
  results to fp16, round-to-nearest-even, so fp16 storage error between ops shows up; fp32 ops
  stay fp32);
- compressed weights are expanded as Core ML would: int8/uint8 linear quantization
  (``constexpr_affine_dequantize``, iOS16; ``constexpr_blockwise_shift_scale``, iOS18), palettized
  weights (``constexpr_lut_to_dense``, iOS16 packed indices and iOS18 sub-byte indices) and
  ``constexpr_cast``;
- image inputs get the preprocessing ops the converter inserted (scale and per-channel bias are
  ordinary MIL ``mul``/``add`` ops), and a ``classify`` op yields (label, {label: probability}).

An op type it does not implement raises ``UnsupportedOperation`` naming it; nothing is skipped.

What it cannot reproduce (so a pass here is necessary, not sufficient, for a pass on a device):

- Apple's kernels: inside one op the arithmetic is fp32 (fp16 inputs are widened, the result is
  rounded once). Core ML's GPU and Neural Engine kernels may keep fp16 intermediates inside an op
  (softmax, layer_norm, gelu, exp/log chains), use approximate transcendental functions, or fuse
  neighbouring ops so that an intermediate is never rounded.
- Accumulation order and precision of reductions (conv, matmul, linear, reduce_*): here fp32 in
  PyTorch's order; on device fp16 or fp32 accumulators in the hardware's order.
- Neural Engine numerics: its internal formats, saturation on overflow instead of inf, flushing of
  fp16 subnormals, and the compute-unit split (which ops run on CPU, GPU or ANE) that Core ML
  decides at load time.
- Run-time behaviour: load-time weight decompression choices, memory, latency, and the
  CVPixelBuffer -> tensor conversion of image inputs (here the image's 8-bit RGB values are used
  as they are).

Entry points: ``MILInterpreter(path_or_program)`` with ``predict(feeds)`` (the same calling
convention as ``coremltools.models.MLModel.predict``), ``UnsupportedOperation``, ``OPS`` (the
implemented op types).
"""

from __future__ import annotations

from mvedge.verify.coreml_interpreter.interpreter import MILInterpreter, ModelIO, UnsupportedOperation
from mvedge.verify.coreml_interpreter.ops import OPS

__all__ = ["MILInterpreter", "ModelIO", "OPS", "UnsupportedOperation"]
