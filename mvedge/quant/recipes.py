"""Per-target int8 recipes: what each target's own quantizer turns to int8, what stays float.

The definition: convolutions, linear layers and attention matmuls in int8; the
selective scan (its exp, softplus and recurrences), normalisations and softmax in float (or
fp16 in a Core ML fp16 program) wherever the target's quantizer allows it. What each quantizer
allows differs, and the recipes say so instead of pretending:

- executorch: ExecuTorch's XNNPACKQuantizer (PT2E, torchao prepare_pt2e/convert_pt2e). int8:
  conv, linear, add, mul, cat (per-channel symmetric weights, per-tensor activations). Float:
  the selective scan and LayerNorm (annotations removed), softmax (not annotated), attention
  matmuls (the XNNPACK quantizer has no static int8 pattern for a product of two activations).
- coreml: ExecuTorch's CoreMLQuantizer (PT2E, W8A8, iOS17 quantize/dequantize ops) exported
  with coremltools. int8: conv, linear, attention matmuls, add, mul. fp16: the scan, LayerNorm,
  softmax, GELU. coremltools' weight-only compression (w8, palette6/4) stays available.
- tflite: ai-edge-quantizer's static_wi8_ai8 recipe on the float .tflite (int8 per-channel
  weights, int8 per-tensor activations, float I/O), with NO_QUANTIZE rules that keep the scan,
  the LayerNorms, softmax, GELU and the attention matmuls float32. `all_integer` drops those rules (what integer-only
  accelerators need; measured less accurate, BENCHMARKS.md section 5). QAT for LiteRT uses
  litert-torch's PT2EQuantizer for the fake quantization.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mvedge.errors import BadInput
from mvedge.quant.regions import Region

OBSERVERS: dict[str, str] = {
    "minmax": "min/max over all calibration images",
    "histogram": "range minimising the L2 quantization error of the activation histogram",
    "percentile": "0.01th to 99.99th percentile of the activation histogram",
}
"""Activation observers `--observer` chooses from (implemented in mvedge.quant.observers)."""
PERCENTILE = 99.99
"""Upper percentile of `percentile` (the lower one is 100 - PERCENTILE)."""


def check_observer(name: str) -> str:
    """The observer name, or ValueError listing the choices."""
    if name not in OBSERVERS:
        raise BadInput(f"unknown observer {name!r}; choose one of {', '.join(OBSERVERS)}")
    return name


@dataclass(frozen=True)
class Recipe:
    """One target's int8 recipe: quantizer, what is int8, what stays float, default observer."""

    target: str
    quantizer: str
    int8: tuple[str, ...]
    float: tuple[str, ...]
    float_types: frozenset[str]
    default_observer: str
    qat: str
    notes: str = ""
    options: dict[str, str] = field(default_factory=dict)

    def region(self, exclude: tuple[str, ...] = (), only: tuple[str, ...] | None = None) -> Region:
        """The float region of this recipe plus user exclusions (module paths)."""
        return Region(self.float_types, tuple(exclude), only)

    def observer(self, name: str | None) -> str:
        """The observer to calibrate with: `name` when given, else the recipe's default."""
        return check_observer(name) if name else self.default_observer

    def to_dict(self) -> dict:
        """Plain-JSON form (sidecars, quant-report)."""
        return {
            "target": self.target,
            "quantizer": self.quantizer,
            "int8": list(self.int8),
            "float": list(self.float),
            "float_module_types": sorted(self.float_types),
            "default_observer": self.default_observer,
            "qat": self.qat,
            "notes": self.notes,
        }


SCAN_AND_NORMS = frozenset({"SelectiveScan", "LayerNorm", "DelegableLayerNorm"})

RECIPES: dict[str, Recipe] = {
    "executorch": Recipe(
        target="executorch",
        quantizer="ExecuTorch XNNPACKQuantizer (PT2E, torchao prepare_pt2e/convert_pt2e)",
        int8=("conv2d", "linear", "add", "mul", "cat"),
        float=("selective scan", "LayerNorm", "softmax", "attention matmuls (no static int8 matmul pattern in XNNPACKQuantizer)"),
        float_types=SCAN_AND_NORMS,
        default_observer="histogram",
        qat="prepare_qat_pt2e with XNNPACKQuantizer(is_qat=True): min/max fake quantizers for activations",
    ),
    "coreml": Recipe(
        target="coreml",
        quantizer="ExecuTorch CoreMLQuantizer (PT2E W8A8) -> coremltools ML program (iOS17 quantize/dequantize)",
        int8=("conv2d", "linear", "matmul (attention)", "add", "mul"),
        float=("selective scan (fp16)", "LayerNorm (fp16)", "softmax (fp16)", "GELU (fp16)"),
        float_types=SCAN_AND_NORMS,
        default_observer="percentile",
        qat="prepare_qat_pt2e with CoreMLQuantizer: min/max fake quantizers",
        notes="weight-only compression (w8, palette6, palette4) comes from coremltools.optimize.coreml",
    ),
    "tflite": Recipe(
        target="tflite",
        quantizer="ai-edge-quantizer static_wi8_ai8 on the float .tflite (float I/O)",
        int8=("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "and the other supported ops"),
        float=("selective scan", "LayerNorm", "softmax", "GELU and BATCH_MATMUL (attention; no int8 kernel in LiteRT's XNNPACK delegate)", "graph input/output (unless io_dtype=int8)", "all int8 with all_integer=true"),
        float_types=SCAN_AND_NORMS,
        default_observer="minmax",
        qat="prepare_qat_pt2e with litert-torch's PT2EQuantizer (is_qat=True, min/max fake quantizers); ai-edge-quantizer "
        "re-quantizes the tuned float weights",
        notes="static_wi8_ai16 (16-bit activations) is not offered: see BENCHMARKS.md section 5",
    ),
}
INT8_TARGETS = tuple(RECIPES)


def recipe_for(target: str) -> Recipe:
    """The int8 recipe of a target; ValueError for a target without int8 (onnx)."""
    if target not in RECIPES:
        raise BadInput(f"target {target} has no int8 recipe; choose one of {', '.join(INT8_TARGETS)}")
    return RECIPES[target]


def quant_options(extra: dict) -> tuple[str | None, tuple[str, ...]]:
    """(observer or None, excluded names) from a converter's target options (`observer`,
    `exclude` as a list or a comma-separated string); ValueError for an unknown observer."""
    observer = extra.get("observer") or None
    if observer is not None:
        check_observer(str(observer))
    exclude = extra.get("exclude") or ()
    if isinstance(exclude, str):
        exclude = exclude.split(",")
    return observer, tuple(name.strip() for name in exclude if str(name).strip())
