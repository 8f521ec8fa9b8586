#!/usr/bin/env bash
# Create a SEPARATE virtual environment holding the official NVlabs MambaVision package
# (PyPI mambavision==1.2.0) runnable on CPU (the official package expects CUDA; see
# scripts/official_mambavision.py for the import shim).  It is only needed to regenerate the golden
# files in tests/fixtures/goldens/ and to benchmark the official model; the project's own
# tests never need it.
#
# Usage: scripts/setup_official_env.sh [VENV_DIR]      (default: ~/.venvs/mvedge-official; not
#        inside the repository)
#
# Rules:
#  * torch is pinned to 2.13.0 on EVERY pip line, so no pip resolution can ever replace it
#    by an unpinned (CUDA) build.  pip must be able to find the CPU wheel 2.13.0+cpu (a local
#    wheel directory, or PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu); the script
#    checks it got the CPU build.
#  * everything else is installed with --no-deps: mambavision/mamba-ssm declare CUDA-only
#    dependencies (triton, causal-conv1d, ...) that must not be pulled in.
#  * mamba-ssm is built from its sdist as a pure-Python wheel (no CUDA extension):
#    MAMBA_FORCE_BUILD=TRUE avoids its setup.py parsing torch.version.cuda (None on CPU).
# After this, import the official model through scripts/official_mambavision.py, which
# applies the import shim (torchvision op schemas, mamba_ssm stubs, reference scan).
set -euo pipefail

VENV="${1:-$HOME/.venvs/mvedge-official}"
PY="${PYTHON:-python3}"
TORCH="torch==2.13.0"

REPO="$(cd "$(dirname "$0")/.." && pwd -P)"
case "$(realpath -m "$VENV")" in
  "$REPO"|"$REPO"/*) echo "refusing to create the venv inside the repository: $VENV" >&2; exit 2;;
esac

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check)

set -x
"${PIP[@]}" "$TORCH"
"${PIP[@]}" "$TORCH" wheel setuptools
"${PIP[@]}" "$TORCH" --no-deps mambavision==1.2.0 timm==1.0.15 einops
"${PIP[@]}" "$TORCH" numpy pyyaml huggingface_hub safetensors packaging pillow
"${PIP[@]}" "$TORCH" --no-deps torchvision==0.28.0
MAMBA_SKIP_CUDA_BUILD=TRUE MAMBA_FORCE_BUILD=TRUE \
  "${PIP[@]}" "$TORCH" --no-build-isolation --no-deps mamba-ssm==2.2.4
set +x

"$VENV/bin/python" - <<'PYEOF'
import importlib.metadata as md, torch
assert torch.__version__.startswith("2.13.0"), torch.__version__
assert torch.version.cuda is None, f"expected the CPU build of torch, got cuda={torch.version.cuda}"
for d in ("torch", "mambavision", "timm", "mamba_ssm", "torchvision", "einops", "numpy", "safetensors"):
    print(f"{d}=={md.version(d)}")
PYEOF
echo "official venv ready: $VENV"
