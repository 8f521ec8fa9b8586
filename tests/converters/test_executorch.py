"""ExecuTorch converter: each precision through the pipeline, run in the ExecuTorch runtime (CoreML:
built, refused to run on Linux), the delegation report, the scan kept in float, and the graph
fixes (LayerNorm, batched matmul, shared-constant untie) that keep everything in the delegate."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("executorch")
pytest.importorskip("torchao")

from converters.base import ConversionError, ConvertOptions  # noqa: E402
from converters.executorch import (  # noqa: E402
    DelegableLayerNorm,
    ExecuTorchConverter,
    float_module_quantizer,
    quant_nodes_in_scan,
)
from converters.pipeline import convert  # noqa: E402
from mvedge.artifact import sha256_of  # noqa: E402
from mvedge.data.calibration import calibration_set  # noqa: E402
from mvedge.model.bundle import ModelBundle, load_bundle  # noqa: E402
from mvedge.model.mambavision import MambaVisionMixer  # noqa: E402
from mvedge.model.scan import SelectiveScan  # noqa: E402
from mvedge.progress import Progress  # noqa: E402
from mvedge.verify.runners import open_runner  # noqa: E402
from mvedge.verify.thresholds import threshold_for  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bundle(small_checkpoint: Path) -> ModelBundle:
    return load_bundle(str(small_checkpoint))


@pytest.fixture(scope="module")
def fp32_artifact(bundle: ModelBundle, tmp_path_factory: pytest.TempPathFactory):
    return convert(bundle, "executorch", "fp32", tmp_path_factory.mktemp("et-fp32"), progress=Progress(quiet=True))


def _sidecar(path: Path) -> dict:
    return json.loads(path.with_name(path.name + ".json").read_text())


def test_fp32_is_fully_delegated_and_matches_pytorch(bundle: ModelBundle, fp32_artifact) -> None:
    artifact = fp32_artifact
    assert artifact.path.name == f"mambavision-custom-{sha256_of(bundle.source)[:8]}-{bundle.image_size}-executorch-fp32.pte" and artifact.verify_note == "verified"
    assert artifact.drift.psnr_db > 100 and artifact.drift.max_abs < 1e-4 and artifact.drift.top1_agreement == 1.0
    sidecar = _sidecar(artifact.path)
    assert sidecar["sha256"] == sha256_of(artifact.path) and sidecar["toolchain"]["executorch"].startswith("1.5")
    report = sidecar["conversion"]["delegation"]
    # the whole graph in one XNNPACK delegate: no op on the portable kernels
    assert report["backend"] == "XnnpackBackend" and report["delegated_subgraphs"] == 1
    assert report["non_delegated_nodes"] == 0 and report["non_delegated_ops"] == {}
    assert "aten_native_layer_norm_default" not in report["delegated_ops"]  # rewritten, not dropped
    changes = sidecar["conversion"]["graph_changes"]
    assert changes["matmuls_as_bmm"] == 4 and changes["shared_constant_reads_untied"] > 0
    # the runner with an explicit thread count gives the same numbers
    x = np.random.default_rng(1).standard_normal((3, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        reference = bundle.model(torch.from_numpy(x)).numpy()
    assert np.abs(open_runner(artifact.path, threads=1).run_all(x) - reference).max() < 1e-4


def test_int8_keeps_the_scan_float_delegates_the_mixer_and_is_small(bundle: ModelBundle, fp32_artifact, tmp_path: Path) -> None:
    options = ConvertOptions("int8", 64, calibration=calibration_set(bundle, limit=16))
    artifact = convert(bundle, "executorch", "int8", tmp_path, options=options, progress=Progress(quiet=True))
    assert artifact.verify_note == "verified"
    limit = threshold_for("int8")
    assert artifact.drift.cosine >= limit.min_cosine and artifact.drift.psnr_db >= limit.min_psnr_db
    assert artifact.drift.psnr_db < 60  # it really is quantized
    conversion = _sidecar(artifact.path)["conversion"]
    report = conversion["delegation"]
    assert report["non_delegated_in_mixer"] == {} and report["non_delegated_nodes"] == 0
    assert conversion["calibration_images"] == 16 and "SelectiveScan" in conversion["float_modules"]
    assert artifact.size_bytes <= 0.3 * fp32_artifact.size_bytes


def test_the_scan_check_sees_quantization_inside_the_scan() -> None:
    """quant_nodes_in_scan finds int8 rounding inside the scan when the quantizer puts it there
    (ExecuTorch 1.5.1's own set_module_type filter lets the carry concat through)."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import XNNPACKQuantizer, get_symmetric_quantization_config
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    torch.manual_seed(0)
    mixer, x = MambaVisionMixer(16, 4, 3, 4).eval(), torch.randn(2, 8, 16)

    def quantized(quantizer):
        prepared = prepare_pt2e(torch.export.export(mixer, (x,)).module(), quantizer)
        prepared(x)
        return convert_pt2e(prepared)

    everything = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    assert len(quant_nodes_in_scan(quantized(everything))) > 10
    assert quant_nodes_in_scan(quantized(float_module_quantizer((SelectiveScan,)))) == []


@pytest.mark.skipif(sys.platform == "darwin", reason="on macOS the CoreML delegate can run; this checks the Linux refusal")
def test_coreml_fp16_builds_fully_delegated_and_is_marked_not_verified_on_linux(bundle: ModelBundle, tmp_path: Path) -> None:
    pytest.importorskip("coremltools")
    artifact = convert(bundle, "executorch", "coreml-fp16", tmp_path, progress=Progress(quiet=True))
    assert artifact.drift is None and artifact.verify_note.startswith("not verified")
    assert "Apple" in artifact.verify_note
    conversion = _sidecar(artifact.path)["conversion"]
    assert conversion["backend"] == "CoreMLBackend" and "Apple devices only" in conversion["runs_on"]
    assert conversion["delegation"]["non_delegated_nodes"] == 0
    assert b"CoreMLBackend" in artifact.path.read_bytes()


def test_delegable_layer_norm_matches_layer_norm() -> None:
    torch.manual_seed(0)
    norm = torch.nn.LayerNorm(24, eps=1e-5)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = torch.randn(3, 7, 24) * 4 + 2
    with torch.no_grad():
        assert torch.allclose(DelegableLayerNorm(norm)(x), norm(x), atol=1e-5)


def test_int8_without_calibration_is_refused(bundle: ModelBundle, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="int8 needs calibration images"):
        ExecuTorchConverter().convert(bundle, ConvertOptions("int8", 64), tmp_path / "x.pte", Progress(quiet=True))
    assert not (tmp_path / "x.pte").exists()


def test_a_bias_read_twice_runs_from_a_file() -> None:
    """A Linear bias also read by another node segfaults ExecuTorch 1.5.1's XNNPACK runtime when the
    .pte is loaded from a file (packed constants are freed after load); the untie pass avoids it.
    Run in a subprocess so a regression shows as a failure, not a crashed test session."""
    script = textwrap.dedent(
        """
        import sys, tempfile, torch
        from pathlib import Path
        from converters.executorch import export_program
        from executorch.exir import to_edge_transform_and_lower
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.runtime import Runtime

        class M(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = torch.nn.Linear(32, 32)
            def forward(self, x):
                return self.lin(x) + self.lin.bias

        m, x = M().eval(), torch.randn(4, 16, 32)
        program, changes = export_program(m, x)
        assert changes["shared_constant_reads_untied"] == 1, changes
        path = Path(tempfile.mkdtemp()) / "bias.pte"
        path.write_bytes(to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch().buffer)
        out = Runtime.get().load_program(path).load_method("forward").execute([x])[0]
        print("MAXDIFF", float((out - m(x)).abs().max()))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"rc {done.returncode}: {done.stderr[-2000:]}"
    assert float(done.stdout.split("MAXDIFF")[1]) < 1e-5
