"""Core ML runner: Core ML itself on macOS, mvedge's MIL interpreter elsewhere (and on request)."""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

from mvedge import upstream
from mvedge.artifact import Sidecar
from mvedge.data.images import denormalise
from mvedge.model.preprocessing import Preprocessing
from mvedge.verify.runners.base import Runner, RuntimeUnavailable
from mvedge.errors import BadInput

BACKENDS = ("coreml", "interpreter")


class CoreMLRunner(Runner):
    """Runs a .mlpackage. `backend`: "coreml" (MLModel.predict, macOS only) or "interpreter"
    (the MIL reference interpreter); default: coreml on macOS, interpreter elsewhere.
    `compute_units` (coreml backend): ALL, CPU_ONLY, CPU_AND_GPU, CPU_AND_NE; `threads`
    (interpreter): torch intra-op threads, default 1.

    Feeds what the model expects, whatever it is: an image input gets the preprocessed batch
    turned back into 8-bit RGB pictures (the model normalises them itself); a tensor input gets
    the batch as is. Returns the logits (or features) output; a classifier without one gives its
    probabilities in label order."""

    target = "coreml"

    def __init__(self, path, backend: str | None = None, compute_units: str = "ALL", threads: int | None = 1, sidecar: Sidecar | None = None, **options) -> None:
        super().__init__(path, sidecar, **options)
        try:
            ct = upstream.import_coremltools()
        except ImportError as exc:
            raise RuntimeUnavailable('coremltools is not installed: pip install "mvedge[coreml]"') from exc
        from mvedge.verify.coreml_interpreter import MILInterpreter, ModelIO

        self.backend = backend or ("coreml" if sys.platform == "darwin" else "interpreter")
        if self.backend not in BACKENDS:
            raise BadInput(f"unknown Core ML backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        if self.backend == "coreml":
            if sys.platform != "darwin":
                raise RuntimeUnavailable("Core ML prediction needs macOS; use backend='interpreter' (mvedge's MIL interpreter) here")
            units = getattr(ct.ComputeUnit, compute_units, None)
            if units is None:
                raise BadInput(f"unknown compute_units {compute_units!r}")
            self.model = ct.models.MLModel(str(self.path), compute_units=units)
            self.io = ModelIO.from_spec(self.model.get_spec())
        else:
            self.model = MILInterpreter(self.path, threads=threads)
            self.io = self.model.io
        self.input_name, info = next(iter(self.io.inputs.items()))
        self.image_input = info.get("kind") == "image"
        self.output_name = next((n for n, o in self.io.outputs.items() if o["kind"] == "tensor"), None)
        if self.output_name is None and not self.io.predicted_probabilities:
            raise BadInput(f"{self.path.name}: no tensor output and no classifier probabilities to compare")
        self.labels = (self.sidecar.labels if self.sidecar else None) or _metadata_json(self.io.metadata, "mvedge.labels")
        if self.output_name is None and not self.labels:  # a classifier from elsewhere: its own class order
            interpreter = self.model if isinstance(self.model, MILInterpreter) else MILInterpreter(self.path)
            self.labels = interpreter.classifier_classes()
        pre = (self.sidecar.preprocessing if self.sidecar else None) or _metadata_json(self.io.metadata, "mvedge.preprocessing") or {}
        self.preprocessing = Preprocessing.from_dict(pre, f"the preprocessing of {self.path.name}") if pre else Preprocessing(mean=(0.0,) * 3, std=(1.0,) * 3)
        if self.image_input and not pre:
            raise BadInput(f"{self.path.name} takes images but neither its sidecar nor its metadata says how images were normalised")

    def pixels(self, batch: np.ndarray) -> np.ndarray:
        """Preprocessed (N, 3, H, W) float32 -> the 8-bit RGB pictures (N, H, W, 3) they came from."""
        values = denormalise(batch, self.preprocessing) * 255.0
        return np.clip(np.rint(values), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)

    def feeds(self, batch: np.ndarray) -> list[dict[str, Any]]:
        """The prediction inputs for a preprocessed batch: one PIL picture per image for an image
        input, the batch itself for a tensor input."""
        if self.image_input:
            from PIL import Image

            return [{self.input_name: Image.fromarray(p, "RGB")} for p in self.pixels(batch)]
        return [{self.input_name: np.ascontiguousarray(batch, dtype=np.float32)}]

    def run(self, batch: np.ndarray) -> np.ndarray:
        return np.concatenate([self._vector(self.model.predict(feed)) for feed in self.feeds(batch)], axis=0)

    def run_outputs(self, batch: np.ndarray) -> list[np.ndarray]:
        """Every output the sidecar lists, by name, in its order (the compared one otherwise)."""
        if self.output_names is None:
            return [self.run(batch)]
        missing = [n for n in self.output_names if n not in self.io.outputs]
        if missing:
            raise BadInput(f"{self.path.name} has no output {missing[0]!r} (it has {sorted(self.io.outputs)}); re-run mvedge convert")
        results = [self.model.predict(feed) for feed in self.feeds(batch)]
        return [np.concatenate([np.asarray(r[name], dtype=np.float32).reshape(-1, *np.shape(r[name])[1:]) for r in results], axis=0)
                for name in self.output_names]

    def _vector(self, outputs: dict[str, Any]) -> np.ndarray:
        """The compared output as (N, K) float32."""
        if self.output_name is not None:
            value = np.asarray(outputs[self.output_name], dtype=np.float32)
            return value.reshape(value.shape[0] if value.ndim > 1 else 1, -1)
        table = outputs[self.io.predicted_probabilities]
        return np.asarray([[table[label] for label in self.labels]], dtype=np.float32)


def _metadata_json(metadata: dict[str, str], key: str) -> Any:
    text = metadata.get(key)
    return json.loads(text) if text else None
