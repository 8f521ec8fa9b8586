"""ONNX: torch.export-based exporter (opset 18), dynamic batch, checked in onnxruntime; the model's
name, preprocessing, labels and license are written into its metadata_props."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from converters.base import ConversionError, ConversionResult, Converter, ConvertOptions
from mvedge.model.bundle import ModelBundle, embedded_description
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


class OnnxConverter(Converter):
    """MambaVision -> .onnx (fp32), batch dimension dynamic."""

    target = "onnx"
    suffix = ".onnx"
    precisions = {"fp32": "float32 weights and activations"}
    extra = "onnx"
    modules = ("onnx", "onnxscript", "onnxruntime")
    packages = ("onnx", "onnxscript", "onnxruntime")

    def convert(self, bundle: ModelBundle, options: ConvertOptions, out_path: Path, progress: Progress) -> ConversionResult:
        example = options.example_input(bundle.config["in_channels"])
        dynamic = bool(options.extra.get("dynamic_batch", True))  # False: fixed batch (onnx2tf needs static shapes)
        batch = torch.export.Dim("batch", min=1, max=1024)
        choice = choice_of(bundle)
        names = choice.names if choice.kind != "logits" else ["logits"]
        # the exporter logs one warning per missing torchvision op and prints its steps: noise here
        with progress.stage(f"exporting ONNX opset {OPSET}"), silenced():
            try:
                program = torch.onnx.export(
                    export_model(bundle.model, choice).eval(),
                    (example,),
                    dynamo=True,
                    opset_version=OPSET,
                    input_names=["image"],
                    output_names=names,
                    dynamic_shapes=({0: batch},) if dynamic else None,
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
        onnx.save(model, str(out_path))
        onnx.checker.check_model(model)
        ops = sorted({node.op_type for node in model.graph.node})
        opset = max(entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx"))
        return ConversionResult(
            out_path, input_name="image", output_name=names[0], dynamic_batch=dynamic,
            output_names=names if choice.kind != "logits" else None,
            metadata={"opset": opset, "ops": ops, "dynamic_batch": dynamic},
        )
