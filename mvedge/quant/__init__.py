"""Quantization-aware MambaVision: per-target int8 recipes, calibration observers, QAT with
distillation (optionally over torch.distributed), and per-block sensitivity analysis.

Modules (toolchain imports stay inside the modules that need them, so importing this package
needs torch only):
- recipes: what each target's quantizer turns to int8 and what stays float; observer names;
- regions / units: graph regions (module stacks) and the blocks a model is quantized by;
- observers: min/max, histogram and percentile range estimators (torchao observers);
- pt2e: capture, prepare, calibrate and convert with the target's own PT2E quantizer;
- data: image folders (class subfolders for labels) without torchvision;
- qat, distributed, checkpoint: fake-quant fine-tuning with distillation, DDP, the saved checkpoint;
- sensitivity: one block quantized at a time, ranked by the drift it causes.
"""

from mvedge.quant.recipes import INT8_TARGETS, OBSERVERS, RECIPES, Recipe, check_observer, recipe_for
from mvedge.quant.units import Unit, quant_units

__all__ = ["INT8_TARGETS", "OBSERVERS", "RECIPES", "Recipe", "Unit", "check_observer", "quant_units", "recipe_for"]
