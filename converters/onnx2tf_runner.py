"""Runs onnx2tf 2.x inside mvedge's side environment: ONNX file in, float32 .tflite out.

Executed by the side interpreter as a script (`python -I onnx2tf_runner.py MODEL.onnx OUT_DIR
OPTIONS_JSON`), so it imports nothing from mvedge. OPTIONS_JSON: {"batch": int, "keep_nchw": input
name or null}. Writes OUT_DIR/result.json: {"float32": file name, "onnx2tf": version}.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def run(onnx_path: Path, out_dir: Path, options: dict) -> dict:
    """Convert with onnx2tf's default flatbuffer_direct backend (no TensorFlow); the result record."""
    import onnx2tf

    onnx2tf.convert(
        input_onnx_file_path=str(onnx_path),
        output_folder_path=str(out_dir),
        batch_size=int(options["batch"]),  # the ONNX batch is dynamic; the .tflite is fixed
        keep_shape_absolutely_input_names=[options["keep_nchw"]] if options.get("keep_nchw") else None,
        verbosity="error",
    )
    produced = out_dir / f"{onnx_path.stem}_float32.tflite"
    if not produced.is_file():
        raise SystemExit(f"onnx2tf wrote no {produced.name}")
    return {"float32": produced.name, "onnx2tf": onnx2tf.__version__}


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: onnx2tf_runner.py MODEL.onnx OUT_DIR OPTIONS_JSON", file=sys.stderr)
        return 2
    onnx_path, out_dir, options = Path(argv[0]), Path(argv[1]), json.loads(argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    result = run(onnx_path, out_dir, options)
    (out_dir / "result.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
