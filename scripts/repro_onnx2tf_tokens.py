#!/usr/bin/env python
"""Minimal reproduction of the onnx2tf 1.29.24 bug behind `--via onnx2tf` refusals (material for a bug report to onnx2tf).

A four-op token block, the shape of every MambaVision mixer/attention block:
NCHW feature map -> tokens (flatten + transpose) -> x + Linear(LayerNorm(x)) -> back to NCHW.
torch.onnx.export (opset 18) gives a correct ONNX model (checked in onnxruntime); onnx2tf turns it
into a .tflite that, with as many tokens as channels (C=64, 8x8 = 64 tokens), runs but computes
the wrong thing (its NCHW-to-NHWC layout inference cannot tell the two axes apart), and with
unequal ones fails to convert at the MatMul. Measured here (onnx2tf 1.29.24, TF 2.21,
ai-edge-litert 2.3): C=64 tokens=64 -> converts, max abs error 6.2 against PyTorch (outputs up to 4.1); C=64 tokens=32
and C=32 tokens=64 -> conversion error in tf.linalg.matmul (the mixer blocks of the small test model do convert).

    pip install --no-deps onnx2tf==1.29.24 sne4onnx==2.0.1   # plus mvedge[tflite,onnx]
    python scripts/repro_onnx2tf_tokens.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch


class TokenBlock(torch.nn.Module):
    """x (1, C, H, W) -> tokens (1, H*W, C) -> t + fc(norm(t)) -> (1, C, H, W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.norm = torch.nn.LayerNorm(channels)
        self.fc = torch.nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)
        tokens = tokens + self.fc(self.norm(tokens))
        return tokens.transpose(1, 2).reshape(b, c, h, w)


def check(channels: int, height: int, width: int, work: Path) -> str:
    """Export, convert with onnx2tf, run in LiteRT and compare with PyTorch; one line of result."""
    import onnx
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    model, x = TokenBlock(channels).eval(), torch.randn(1, channels, height, width)
    with torch.no_grad():
        want = model(x).numpy()
    onnx_path = work / "block.onnx"
    torch.onnx.export(model, (x,), str(onnx_path), opset_version=18, dynamo=True)
    name = onnx.load(str(onnx_path)).graph.input[0].name
    onnx_error = np.abs(ort.InferenceSession(str(onnx_path)).run(None, {name: x.numpy()})[0] - want).max()
    # onnx2tf reads this file instead of downloading its sample data when run offline
    np.save(work / "calibration_image_sample_data_20x128x128x3_float32.npy", np.random.rand(20, 128, 128, 3).astype(np.float32))
    onnx2tf = Path(sys.executable).parent / "onnx2tf"
    done = subprocess.run([str(onnx2tf), "-i", "block.onnx", "-o", "out", "-kat", name, "-v", "error"], cwd=work, capture_output=True, text=True)
    label = f"C={channels} tokens={height * width}: onnx (onnxruntime) max abs error {onnx_error:.1e}; onnx2tf "
    if done.returncode != 0:
        last = [line for line in (done.stdout + done.stderr).splitlines() if "Error" in line or "ERROR" in line]
        return label + "failed to convert: " + (last[-1].strip()[:160] if last else f"exit {done.returncode}")
    interpreter = Interpreter(model_path=str(work / "out" / "block_float32.tflite"),
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x.numpy())
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).reshape(want.shape)
    return label + f"converted; LiteRT max abs error {np.abs(got - want).max():.3g} (outputs up to {np.abs(want).max():.2g})"


def main() -> None:
    for channels, height, width in [(64, 8, 8), (64, 8, 4), (32, 8, 8)]:
        with tempfile.TemporaryDirectory() as tmp:
            print(check(channels, height, width, Path(tmp)), flush=True)


if __name__ == "__main__":
    main()
