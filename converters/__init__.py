"""Per-target conversion pipelines (Core ML, TFLite/LiteRT, ExecuTorch, ONNX) behind one interface.

`converters.base.Converter` is the interface, `converters.registry.get_converter(target)` picks a
target's converter, and `converters.pipeline.convert` runs one conversion end to end (checks,
drift verification in the target's runtime, sidecar, atomic output) for `mvedge convert`.
"""
