"""`mvedge convert --outputs/--stages` on the command line: its refusals, a detection/segmentation
backbone's stage maps (out norms applied) converted end to end, and `verify` / `info` on the
multi-output artifact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mvedge.artifact import read_sidecar
from mvedge.cli import main
from mvedge.model.checkpoints import save_checkpoint
from mvedge.verify.runners import open_runner
from tests.commands.cli import error_line
from tests.model.test_backbone import seeded_backbone


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--stages", "1,2"], "it needs --outputs stages"),
        (["--outputs", "features", "--stages", "1"], "it needs --outputs stages"),
        (["--outputs", "stages", "--stages", "1,4"], "stages are numbered 0..3"),
    ],
)
def test_bad_output_options_are_refused_before_any_work(options, message, tmp_path: Path, capsys) -> None:
    argv = ["convert", *([] if "--target" in options else ["--target", "onnx"]), *options, "--out", str(tmp_path / "out")]
    assert message in error_line(capsys, argv)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.fixture(scope="module")
def backbone_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    backbone = seeded_backbone(out_indices=[1, 3])
    path = tmp_path_factory.mktemp("backbone") / "det.safetensors"
    save_checkpoint(backbone, path)
    return path, backbone


def test_a_backbone_needs_outputs_stages(backbone_file, tmp_path: Path, capsys) -> None:
    path, _ = backbone_file
    assert "--outputs stages" in error_line(capsys, ["convert", "--target", "onnx", "--weights", str(path), "--out", str(tmp_path)])
    line = error_line(capsys, ["convert", "--target", "onnx", "--weights", str(path), "--outputs", "features", "--out", str(tmp_path)])
    assert "backbone without a classifier head" in line and "--outputs stages" in line
    line = error_line(capsys, ["convert", "--target", "onnx", "--weights", str(path), "--outputs", "stages", "--stages", "0", "--out", str(tmp_path)])
    assert "outputs stages 1,3 only" in line


def test_a_backbone_converts_its_normed_stage_maps_and_verify_and_info_read_every_output(backbone_file, tmp_path: Path, capsys) -> None:
    path, backbone = backbone_file
    out = tmp_path / "out"
    argv = ["convert", "--target", "onnx", "--weights", str(path), "--outputs", "stages", "--out", str(out), "--limit", "4", "--json", "-"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    (row,) = report["artifacts"]
    artifact = Path(row["path"])
    assert row["status"] == "verified" and artifact.name.endswith("-onnx-fp32-stages13.onnx")
    assert set(row["drift"]["outputs"]) == {"stage1", "stage3"} and row["drift"]["top1_agreement"] is None
    sidecar = read_sidecar(artifact)
    assert [(o.name, o.shape, o.stride) for o in sidecar.all_outputs()] == [("stage1", [1, 16, 8, 8], 8), ("stage3", [1, 64, 2, 2], 32)]
    assert sidecar.conversion["stage_maps"] == "backbone out norms applied"
    x = np.random.default_rng(1).normal(size=(2, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        expected = [t.numpy() for t in backbone.forward_intermediates(torch.from_numpy(x))]
    got = open_runner(artifact).run_all_outputs(x)
    assert all(np.allclose(g, e, atol=1e-4) for g, e in zip(got, expected))

    assert main(["verify", str(artifact), "--weights", str(path), "--limit", "4"]) == 0
    text = capsys.readouterr().out
    assert "output stage1" in text and "output stage3" in text and "worst output" in text and "top-1" not in text
    assert main(["info", str(artifact)]) == 0
    rows = dict(line.split("  ", 1) for line in capsys.readouterr().out.splitlines())
    assert "stride 8" in rows["output stage1"] and "PSNR" in rows["output stage3"] and "worst output" in rows["drift"]
