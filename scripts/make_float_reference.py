#!/usr/bin/env python
"""Write the float32 reference files that drift tests compare with (tests/fixtures/reference/).

For the embedded digits model (16 held-out digits) and the seeded T-shaped model (4 crops of
packaged photos at 224 px): the 8-bit input pixels, the float32 outputs, and the environment
(device, torch/CUDA versions, TF32 settings, command). On a CUDA GPU it runs in fp32 with TF32
off for matmuls and convolutions; without one it says so and uses the CPU.

    python scripts/make_float_reference.py [--device auto|cuda|cpu] [--out tests/fixtures/reference]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mvedge.model.bundle import ModelBundle, load_bundle  # noqa: E402
from mvedge.verify.data import verification_set  # noqa: E402
from mvedge.verify.reference import SEED, T_SHAPED, normalise, pixels_of, t_shaped_bundle  # noqa: E402


REFERENCE_DIR = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "reference"


def pick_device(choice: str) -> torch.device:
    """cuda when asked for or available (auto), else cpu; TF32 is switched off on CUDA."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda but no CUDA device is available; use --device cpu")
    device = torch.device("cuda" if choice in ("cuda", "auto") and torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
    else:
        print("no CUDA GPU here: the reference is computed on the CPU (the environment file says so)", file=sys.stderr)
    return device


def environment(device: torch.device, bundle: ModelBundle, extra: dict) -> dict:
    """What computed the reference."""
    env = {
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32 if device.type == "cuda" else None,
        "tf32_cudnn": torch.backends.cudnn.allow_tf32 if device.type == "cuda" else None,
        "dtype": "float32",
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "config": bundle.config,
        "preprocessing": bundle.preprocessing.to_dict(),
    }
    env.update(extra)
    return env


def write_reference(name: str, bundle: ModelBundle, limit: int, device: torch.device, out: Path, extra: dict) -> None:
    """Compute and write one model's reference."""
    images, labels, description = verification_set(bundle, limit=limit)
    pre = bundle.preprocessing
    pixels = pixels_of(images, pre.mean, pre.std)
    inputs = normalise(pixels, pre.mean, pre.std)
    assert np.abs(inputs - images).max() < 1e-5, "the pixels do not reproduce the preprocessed images"
    model = bundle.model.to(device).eval()
    with torch.no_grad():
        outputs = model(torch.from_numpy(inputs).to(device)).float().cpu().numpy()
    bundle.model.to("cpu")
    arrays = {"pixels": pixels, "outputs": outputs}
    if labels is not None:
        arrays["labels"] = np.asarray(labels)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / f"{name}.npz", **arrays)
    (out / f"{name}.json").write_text(json.dumps(environment(device, bundle, {"images": description, **extra}), indent=1) + "\n")
    print(f"{name}: {description}, outputs {outputs.shape} on {device.type} -> {out / name}.npz/.json", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--out", default=str(REFERENCE_DIR))
    args = parser.parse_args()
    device = pick_device(args.device)
    out = Path(args.out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_reference("digits", load_bundle(), 16, device, out, {"model": "embedded digits model"})
        with tempfile.TemporaryDirectory() as tmp:
            write_reference("t-shaped", t_shaped_bundle(tmp), 4, device, out,
                            {"model": "T-shaped (mvedge.verify.reference.T_SHAPED, seeded random weights)", "seed": SEED, "t_shaped": T_SHAPED})


if __name__ == "__main__":
    main()
