"""Per-target conversion pipelines (CoreML, TFLite/LiteRT, ExecuTorch, ONNX) behind one interface.

Filled by the [converters] issue; nothing here converts yet.
"""
