"""ONNX: torch.export-based exporter (opset 18), dynamic batch, checked in onnxruntime; the model's
name, preprocessing, labels and license are written into its metadata_props. Several input sizes
give one model with symbolic height and width, checked at each size."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from converters.base import ConversionError, ConversionResult, Converter, ConvertOptions
from mvedge.model.any_size import export_any_size
from mvedge.model.bundle import ModelBundle, embedded_description, total_stride
from mvedge.model.outputs import choice_of, export_model
from mvedge.progress import Progress
from mvedge.quiet import silenced

OPSET = 18  # the dynamo exporter's floor (it writes 18 even when asked for 17)


def set_metadata(model, description: dict[str, Any]) -> None:
    """Write the model's description into the ONNX model's metadata_props (string key -> string):
    mvedge.version, mvedge.model, mvedge.license, and mvedge.preprocessing / mvedge.labels as JSON."""
    props = {
        "mvedge.version": description["mvedge_version"],
        "mvedge.model": description["model"],
        "mvedge.license": description["license"],
        "mvedge.preprocessing": json.dumps(description["preprocessing"], sort_keys=True),
        "mvedge.labels": json.dumps(description["labels"]),
    }
    kept = [(p.key, p.value) for p in model.metadata_props if p.key not in props]
    del model.metadata_props[:]
    for key, value in kept + sorted(props.items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def name_symbolic_dims(model, strides: list[int | None]) -> None:
    """Give the symbolic dimensions readable names: the input's `batch`, `height` and `width`; an
    output's `batch` and, for a stage map of stride s, `ceil(height/s)` and `ceil(width/s)`. The
    exporter writes raw shape expressions; intermediate value_info that carries them is dropped
    (onnxruntime infers those shapes again)."""
    names = {0: "batch", 2: "height", 3: "width"}
    for index, dim in enumerate(model.graph.input[0].type.tensor_type.shape.dim):
        if dim.dim_param and index in names:
            dim.dim_param = names[index]
    for output, stride in zip(model.graph.output, strides):
        dims = output.type.tensor_type.shape.dim
        for index, dim in enumerate(dims):
            if not dim.dim_param:
                continue
            if index == 0:
                dim.dim_param = "batch"
            elif stride and len(dims) == 4 and index in (2, 3):
                dim.dim_param = f"ceil({names[index]}/{stride})"
    kept = [v for v in model.graph.value_info if not any(d.dim_param for d in v.type.tensor_type.shape.dim)]
    del model.graph.value_info[:]
    model.graph.value_info.extend(kept)


class OnnxConverter(Converter):
    """MambaVision -> .onnx (fp32), batch dimension dynamic."""

    target = "onnx"
    suffix = ".onnx"
    precisions = {"fp32": "float32 weights and activations"}
    extra = "onnx"
    modules = ("onnx", "onnxscript", "onnxruntime")
    packages = ("onnx", "onnxscript", "onnxruntime")

    def several_sizes_refusal(self, precision: str, extra: dict[str, Any]) -> str | None:
        """None unless a static graph is asked for (onnx2tf's input): several sizes make the
        height and width symbolic."""
        if extra.get("dynamic_batch", True) is False:
            return "the onnx2tf route needs static shapes"
        return None

    def convert(self, bundle: ModelBundle, options: ConvertOptions, out_path: Path, progress: Progress) -> ConversionResult:
        example = options.example_input(bundle.config["in_channels"])
        dynamic = bool(options.extra.get("dynamic_batch", True))  # False: fixed batch (onnx2tf needs static shapes)
        choice = choice_of(bundle)
        names = choice.names if choice.kind != "logits" else ["logits"]
        module = export_model(bundle.model, choice).eval()
        # the exporter logs one warning per missing torchvision op and prints its steps: noise here
        with progress.stage(f"exporting ONNX opset {OPSET}"), silenced():
            try:
                if options.multi_size:
                    source, args, shapes = export_any_size(module, example, total_stride(bundle.model), dynamic_batch=dynamic), (), None
                else:
                    source, args = module, (example,)
                    shapes = ({0: torch.export.Dim("batch", min=1, max=1024)},) if dynamic else None
                program = torch.onnx.export(
                    source,
                    args,
                    dynamo=True,
                    opset_version=OPSET,
                    input_names=["image"],
                    output_names=names,
                    dynamic_shapes=shapes,
                    external_data=False,
                    optimize=True,
                )
            except Exception as exc:
                raise ConversionError(f"ONNX export failed: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
            program.save(str(out_path), external_data=False)
        import onnx

        model = onnx.load(str(out_path))
        description = embedded_description(bundle)
        if choice.kind != "logits":  # features and stage maps have no classes
            description["labels"] = None
        set_metadata(model, description)
        name_symbolic_dims(model, [2 ** (i + 2) for i in choice.stages] if choice.kind == "stages" else [None])
        onnx.save(model, str(out_path))
        onnx.checker.check_model(model)
        ops = sorted({node.op_type for node in model.graph.node})
        opset = max(entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx"))
        return ConversionResult(
            out_path, input_name="image", output_name=names[0], dynamic_batch=dynamic,
            output_names=names if choice.kind != "logits" else None,
            metadata={"opset": opset, "ops": ops, "dynamic_batch": dynamic,
                      **({"any_size_from": total_stride(bundle.model)} if options.multi_size else {})},
        )
