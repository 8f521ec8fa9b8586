"""The CLI contract every command keeps: an unusable output path is one line and exit 2 before any
work, Ctrl-C is one line and exit 130 with nothing left behind (also when a toolchain turned the
KeyboardInterrupt into its own error), and names the user types are case-insensitive."""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

import numpy as np
import pytest

import converters.pipeline
import converters.tflite
import mvedge.commands.conversion
import mvedge.progress
from converters.base import Converter
from converters.registry import TARGETS, get_converter
from mvedge.cli import main
from tests.commands.cli import error_line
from tests.sidecars import make_sidecar

READ_ONLY = Path("/sys/mvedge-out")  # a read-only file system even for root


def _writable(folder: Path) -> bool:
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the model is the work an output check must come before."""

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the output path was checked")

    monkeypatch.setattr(mvedge.commands.conversion, "model_from_options", refuse)
    monkeypatch.setattr("mvedge.commands.build.model_from_options", refuse)
    monkeypatch.setattr("mvedge.commands.qat.model_from_options", refuse)
    monkeypatch.setattr(Converter, "check_available", lambda self: None)


@pytest.mark.parametrize(
    "argv",
    [
        ["convert", "--target", "onnx", "--out", "{file}"],
        ["benchmark", "--target", "onnx", "--out", "{file}"],
        ["convert", "--target", "onnx", "--out", "{file}/sub"],
        ["build", "--out", "{file}/w.safetensors"],
        ["qat", "--target", "executorch", "--data", ".", "--out", "{file}/q.safetensors"],
        ["verify", "x.onnx", "--json", "{file}/report.json"],
        ["profile", "x.onnx", "--json", "{file}/profile.json"],
    ],
)
def test_an_output_path_through_a_file_is_refused_before_any_work(argv, no_model, tmp_path: Path, capsys) -> None:
    file = tmp_path / "a-file"
    file.write_text("not a folder")
    line = error_line(capsys, [a.replace("{file}", str(file)) for a in argv])
    assert "a-file" in line and "file, not a folder" in line
    assert file.read_text() == "not a folder"


@pytest.mark.skipif(_writable(READ_ONLY.parent), reason="needs a read-only file system at /sys")
@pytest.mark.parametrize("command", ["convert", "benchmark"])
def test_a_read_only_output_folder_is_refused_before_any_work(command: str, no_model, capsys) -> None:
    line = error_line(capsys, [command, "--target", "onnx", "--out", str(READ_ONLY)])
    assert f"--out {READ_ONLY}: cannot write in /sys" in line


def test_a_read_only_app_folder_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    app = tmp_path / "android_demo"
    app.mkdir()

    def no_write(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", no_write)  # root may write anywhere; a user may not
    line = error_line(capsys, ["bundle", "--app", "ANDROID", "--app-dir", str(app), "x.tflite"])
    assert f"--app-dir {app}: cannot write in {app} (Permission denied)" in line


def _interrupting(self, bundle, options, out_path, progress):
    """A converter step that writes part of its artifact, then sees Ctrl-C."""
    out_path.mkdir(parents=True) if out_path.suffix == ".mlpackage" else out_path.write_bytes(b"partial")
    raise KeyboardInterrupt


@pytest.mark.parametrize("target", TARGETS)
def test_ctrl_c_during_any_conversion_is_one_line_130_and_leaves_nothing(target: str, monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setattr(type(get_converter(target)), "convert", _interrupting)
    monkeypatch.setattr(Converter, "check_available", lambda self: None)
    out = tmp_path / "out"
    assert main(["convert", "--target", target, "--precision", "fp32", "--no-verify", "--out", str(out)]) == 130
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "mvedge: interrupted; nothing written" and not any("Traceback" in line for line in err)
    assert not out.exists()  # no artifact, no staging folder, no empty --out


def test_ctrl_c_that_a_toolchain_turns_into_its_own_error_is_still_130(monkeypatch, tmp_path: Path, capsys) -> None:
    """litert-torch's conversion runs C++ that may catch the KeyboardInterrupt and raise its own
    error, which the converter reports as a failed conversion (exit 1 before)."""

    def convert(model, args):
        try:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C, as the terminal sends it
        except KeyboardInterrupt as exc:
            raise RuntimeError("conversion aborted") from exc

    pytest.importorskip("litert_torch")
    import litert_torch

    monkeypatch.setattr(litert_torch, "convert", convert)
    monkeypatch.setattr(converters.tflite, "_probe_xnnpack", lambda *a: {"runs": True})
    out = tmp_path / "out"
    # As in a terminal: Python's own handler. A test runner started in the background inherits
    # SIGINT ignored, and then no Ctrl-C can reach the process at all.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        assert main(["convert", "--target", "tflite", "--precision", "fp32", "--no-verify", "--out", str(out)]) == 130
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert capsys.readouterr().err.splitlines()[-1] == "mvedge: interrupted; nothing written"
    assert not out.exists()


def test_an_error_without_ctrl_c_is_still_the_error(monkeypatch, tmp_path: Path, capsys) -> None:
    def broken(self, *args):
        raise converters.base.ConversionError("it broke")

    monkeypatch.setattr(converters.tflite.TFLiteConverter, "convert", broken)
    monkeypatch.setattr(Converter, "check_available", lambda self: None)
    assert main(["convert", "--target", "tflite", "--precision", "fp32", "--no-verify", "--out", str(tmp_path / "o")]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == "mvedge: error: it broke"


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--target", "coreml", "--minimum-target", "ios99"], "unknown CoreML minimum_target 'ios99'"),
        (["--target", "tflite", "--precision", "fp32", "--io-dtype", "int8"], "--io-dtype is not used by this run (tflite fp32)"),
        (["--target", "coreml", "--precision", "palette4", "--minimum-target", "iOS15"], "palette4 needs compressed-weight ops"),
    ],
)
def test_bad_target_options_exit_2(argv, message: str, no_model, tmp_path: Path, capsys) -> None:
    assert message in error_line(capsys, ["convert", *argv, "--no-verify", "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_minimum_targets_are_case_insensitive() -> None:
    from converters.coreml import CoreMLOptions

    assert CoreMLOptions.from_extra({"minimum_target": "ios17"}).minimum_target == "iOS17"
    assert CoreMLOptions.from_extra({"minimum_target": "MACOS14"}).minimum_target == "macOS14"


def test_app_names_are_case_insensitive() -> None:
    from mvedge.apps.layout import LAYOUTS, get_layout

    assert get_layout("ANDROID") is LAYOUTS["android"] and get_layout("iOS") is LAYOUTS["ios"]


# --- how much a command says: --quiet, progress of a slow drift check, convert --limit ----------


def _one_pair_converted(monkeypatch: pytest.MonkeyPatch) -> list:
    """converters.pipeline.convert replaced by one that notes a progress line and reports a
    converted (unverified) artifact; returns the verification image sets each call was given."""
    seen = []

    def convert(bundle, target, precision, out_dir, options, force, verify, images, progress, verify_arch="host"):
        from converters.pipeline import Artifact

        seen.append(images)
        progress.child(f"{target} {precision}").note("converting ...")
        sidecar = make_sidecar(target, precision)
        return Artifact(Path(out_dir) / "x.onnx", target, precision, 1, 0.1, None, sidecar, "not verified (--no-verify)")

    monkeypatch.setattr(converters.pipeline, "convert", convert)
    monkeypatch.setattr(Converter, "check_available", lambda self: None)
    return seen


@pytest.fixture(autouse=True)
def _loud_again():
    """--quiet is process-wide; each test starts without it."""
    yield
    mvedge.progress.set_quiet(False)


def test_quiet_prints_only_the_final_table(monkeypatch, tmp_path: Path, capsys) -> None:
    _one_pair_converted(monkeypatch)
    argv = ["convert", "--target", "onnx", "--no-verify", "--out", str(tmp_path)]
    assert main(argv) == 0
    loud = capsys.readouterr()
    assert "model mambavision-digits" in loud.err and "converting ..." in loud.err
    assert main(["--quiet", *argv]) == 0
    quiet = capsys.readouterr()
    assert quiet.err == "" and quiet.out == loud.out and quiet.out.startswith("target")


def test_quiet_still_prints_errors(tmp_path: Path, capsys) -> None:
    assert "--limit must be a positive number" in error_line(capsys, ["--quiet", "verify", "x.onnx", "--limit", "0"])


def test_convert_limit_sets_the_number_of_verification_images(monkeypatch, tmp_path: Path) -> None:
    seen = _one_pair_converted(monkeypatch)
    assert main(["convert", "--target", "onnx", "--limit", "5", "--out", str(tmp_path)]) == 0
    assert len(seen[0][0]) == 5 and "5 held-out digits" in seen[0][2]


@pytest.mark.parametrize("command", [["convert", "--target", "onnx"], ["benchmark", "--target", "onnx"], ["verify", "x.onnx"]])
@pytest.mark.parametrize("limit", ["0", "-3"])
def test_a_limit_below_one_is_refused(command: list[str], limit: str, no_model, tmp_path: Path, capsys) -> None:
    line = error_line(capsys, [*command, "--limit", limit, *(["--out", str(tmp_path / "o")] if command[0] != "verify" else [])])
    assert line == f"mvedge: error: --limit must be a positive number of images, got {limit}"


def test_a_slow_drift_check_reports_its_progress(monkeypatch, digits, capsys) -> None:
    """The Core ML interpreter takes about a second an image for MambaVision-T: a line about every
    tenth of the images, with the count and the elapsed time; a fast check says nothing."""
    import io

    import mvedge.verify.check as check
    from mvedge.progress import Progress

    class SlowRunner:
        sidecar, sidecar_batch, whole_set = None, 1, False

        def run_all(self, batch):
            clock[0] += 1.0  # one second an image
            return np.zeros((len(batch), 10), dtype=np.float32)

    clock = [0.0]
    monkeypatch.setattr(check, "open_runner", lambda *a, **k: SlowRunner())
    monkeypatch.setattr(check, "float_reference", lambda bundle, images: np.zeros((len(images), 10), dtype=np.float32))
    monkeypatch.setattr(mvedge.progress.time, "perf_counter", lambda: clock[0])
    images = np.zeros((20, 3, 8, 8), dtype=np.float32)
    stream = io.StringIO()
    check.verify_artifact("x.mlpackage", digits, images, None, progress=Progress("coreml fp16", stream))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "[coreml fp16] 6/20 images (6.0 s)" and lines[-1] == "[coreml fp16] 20/20 images (20.0 s)"
    assert len(lines) == 8  # 6, 8, ..., 20: every second image once past 5 s

    clock[0], fast = 0.0, io.StringIO()
    SlowRunner.run_all = lambda self, batch: np.zeros((len(batch), 10), dtype=np.float32)
    check.verify_artifact("x.mlpackage", digits, images, None, progress=Progress("onnx fp32", fast))
    assert fast.getvalue() == ""


# --- small input checks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("empty.pth", b"", "is not a readable PyTorch file: it is an empty file; expected weights written by torch.save"),
        ("notes.pth.tar", b"hello world\n", "is not a readable PyTorch file: it is a text file of 12 bytes starting 'hello world'; expected"),
        ("empty.safetensors", b"", "is not a readable safetensors file: it is an empty file; expected a safetensors file"),
    ],
)
def test_a_checkpoint_that_is_no_checkpoint_says_what_it_is(name: str, content: bytes, message: str, tmp_path: Path, capsys) -> None:
    (tmp_path / name).write_bytes(content)
    line = error_line(capsys, ["build", "--weights", str(tmp_path / name)])
    assert message in line and "EOFError" not in line and "KeyError" not in line


def test_an_unknown_block_to_exclude_is_refused_before_any_conversion(monkeypatch, tmp_path: Path, capsys) -> None:
    calls = []
    monkeypatch.setattr(converters.pipeline, "convert", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(Converter, "check_available", lambda self: None)
    out = tmp_path / "out"
    line = error_line(capsys, ["convert", "--target", "tflite", "--precision", "int8", "--exclude", "levels.9.blocks.0", "--out", str(out)])
    assert "--exclude 'levels.9.blocks.0' names no block of this model; use one of: patch_embed, levels.0.blocks.0" in line
    assert calls == [] and not out.exists()


# --- input sizes the network cannot use well ----------------------------------------------------


@pytest.mark.parametrize("size", ["31", "17", "1"])
def test_an_image_size_below_the_total_stride_is_refused_naming_the_minimum(size: str, monkeypatch, tmp_path: Path, capsys) -> None:
    calls = []
    monkeypatch.setattr(converters.pipeline, "convert", lambda *a, **k: calls.append(a))
    out = tmp_path / "out"
    line = error_line(capsys, ["convert", "--target", "onnx", "--image-size", size, "--out", str(out)])
    assert f"--image-size {size} has a side below the network's total stride (32)" in line and "use at least 32" in line
    assert calls == [] and not out.exists()


def test_the_total_stride_comes_from_the_model() -> None:
    from torch import nn

    from mvedge.model import build
    from mvedge.model.bundle import total_stride
    from mvedge.model.configs import test_config

    assert total_stride(build(**test_config("tiny", image_size=32))) == 32  # stem /4, three downsamplers /2
    model = build(**test_config("tiny", image_size=32))
    model.levels[2].downsample = None
    model.patch_embed.conv_down[0] = nn.Conv2d(3, model.patch_embed.conv_down[0].out_channels, 3, 4, 1)
    assert total_stride(model) == 4 * 2 * 2 * 2  # a /4 first conv, then /2, and two downsamplers


@pytest.mark.parametrize("size,noted", [("128", False), ("64", False), ("256", False), ("48", True), ("320", True)])
def test_a_size_far_from_the_training_size_gets_one_note(size: str, noted: bool, monkeypatch, tmp_path: Path, capsys) -> None:
    _one_pair_converted(monkeypatch)
    assert main(["convert", "--target", "onnx", "--no-verify", "--image-size", size, "--out", str(tmp_path)]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "trained at" in line]
    expected = [f"note: --image-size {size} is outside 0.5x-2x of the size the model was trained at (128); expect lower accuracy"]
    assert [n[: len(expected[0])] for n in notes] == (expected if noted else [])


# --- artifact names -----------------------------------------------------------------------------


def _bundle(name: str = "T", size: int = 224, random: bool = False):
    from types import SimpleNamespace

    return SimpleNamespace(name=name, image_size=size, size_label=str(size), random_weights=random)


def test_artifact_names_say_what_is_inside() -> None:
    from converters.pipeline import artifact_name

    name = artifact_name(_bundle(random=True), "tflite", "int8", ".tflite", {"nhwc": True, "io_dtype": "int8"})
    assert name == "mambavision-t-random-224-tflite-int8-nhwc-io_int8.tflite"
    assert artifact_name(_bundle("mambavision-digits", 128), "onnx", "fp32", ".onnx") == "mambavision-digits-128-onnx-fp32.onnx"
    different = [
        artifact_name(_bundle(), "tflite", "int8", ".tflite"),
        artifact_name(_bundle(size=31), "tflite", "int8", ".tflite"),
        artifact_name(_bundle(random=True), "tflite", "int8", ".tflite"),
        artifact_name(_bundle(), "tflite", "int8", ".tflite", {"nhwc": True}),
        artifact_name(_bundle(), "tflite", "int8", ".tflite", {"io_dtype": "int8"}),
        artifact_name(_bundle(), "tflite", "int8", ".tflite", {"all_integer": True}),
        artifact_name(_bundle(), "tflite", "int8", ".tflite", {"observer": "histogram"}),
        artifact_name(_bundle(), "tflite", "int8", ".tflite", {"exclude": "head"}),
        artifact_name(_bundle(), "tflite", "int8", ".tflite", {"exclude": "head,levels.0.blocks.0"}),
        artifact_name(_bundle(), "tflite", "int8", ".tflite", {"via": "onnx2tf"}),
        artifact_name(_bundle(), "coreml", "int8", ".tflite", {"minimum_target": "iOS18"}),
        artifact_name(_bundle(), "coreml", "int8", ".tflite", {"tensor_input": True}),
        artifact_name(_bundle(), "coreml", "int8", ".tflite", {"scan_fp32": True}),
    ]
    assert len(set(different)) == len(different)
    same = {  # defaults spelled out, or the same blocks in another order: the same artifact
        artifact_name(_bundle(), "tflite", "int8", ".tflite", {"io_dtype": "float32", "via": "litert-torch", "nhwc": False}),
        artifact_name(_bundle(), "tflite", "int8", ".tflite"),
    }
    assert len(same) == 1
    assert artifact_name(_bundle(), "tflite", "int8", ".t", {"exclude": "a,b"}) == artifact_name(_bundle(), "tflite", "int8", ".t", {"exclude": "b, a"})


def test_the_size_keeps_two_conversions_apart(monkeypatch, tmp_path: Path, capsys) -> None:
    """A 64-px conversion does not collide with the 128-px one already there."""
    from mvedge.commands.conversion import artifact_paths, plan
    from mvedge.model.bundle import load_bundle

    (at_128,) = artifact_paths(load_bundle(), plan("onnx", None), tmp_path)
    (at_64,) = artifact_paths(load_bundle(image_size=64), plan("onnx", None), tmp_path)
    assert at_128.name == "mambavision-digits-128-onnx-fp32.onnx" and at_64.name == "mambavision-digits-64-onnx-fp32.onnx"


# --- options a target does not use --------------------------------------------------------------


@pytest.fixture
def recorded_extra(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, dict]]:
    """(target, precision, options.extra) of every conversion, each reported as converted."""
    calls = []

    def convert(bundle, target, precision, out_dir, options, *args, **kwargs):
        from converters.pipeline import Artifact

        calls.append((target, precision, dict(options.extra)))
        return Artifact(Path(out_dir) / "x", target, precision, 1, 0.1, None, make_sidecar(target, precision), "")

    monkeypatch.setattr(converters.pipeline, "convert", convert)
    monkeypatch.setattr(Converter, "check_available", lambda self: None)
    return calls


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--target", "onnx", "--nhwc"], "--nhwc is not used by this run (onnx fp32); it applies to tflite"),
        (["--target", "onnx", "--calibration", "."], "--calibration is not used by this run (onnx fp32); it applies to coreml int8"),
        (["--target", "tflite", "--precision", "fp32", "--calibration", "."], "--calibration is not used by this run (tflite fp32)"),
        (["--target", "coreml", "--via", "onnx2tf"], "--via is not used by this run (coreml fp16); it applies to tflite"),
        (["--target", "coreml", "--precision", "fp32", "--scan-fp32"], "--scan-fp32 is not used by this run (coreml fp32)"),
        (["--target", "executorch,onnx", "--tensor-input"], "--tensor-input is not used by this run (executorch fp32, onnx fp32); it applies to coreml"),
    ],
)
def test_an_option_no_target_of_the_run_uses_is_refused(argv, message: str, recorded_extra, no_model, tmp_path: Path, capsys) -> None:
    assert message in error_line(capsys, ["convert", *argv, "--out", str(tmp_path / "out")])
    assert recorded_extra == [] and not (tmp_path / "out").exists()


def test_an_option_some_targets_ignore_is_reported_and_reaches_only_its_users(recorded_extra, tmp_path: Path, capsys) -> None:
    assert main(["convert", "--target", "onnx,tflite", "--precision", "fp32", "--nhwc", "--no-verify", "--out", str(tmp_path)]) == 0
    assert "note: --nhwc applies to tflite fp32 only; onnx fp32 ignores it" in capsys.readouterr().err
    assert recorded_extra == [("onnx", "fp32", {}), ("tflite", "fp32", {"nhwc": True})]  # no "nhwc" in the onnx sidecar


def test_targets_a_precision_leaves_out_are_named(recorded_extra, tmp_path: Path, capsys) -> None:
    assert main(["convert", "--target", "all", "--precision", "palette4", "--no-verify", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "note: tflite, executorch, onnx left out: no precision palette4 (their precisions: tflite fp32, fp16" in err
    assert [(t, p) for t, p, _ in recorded_extra] == [("coreml", "palette4")]


def test_the_options_table_comes_from_the_converters() -> None:
    from mvedge.commands.conversion import OPTION_FLAGS, option_users

    assert get_converter("onnx").reads == {} and option_users("nhwc") == "tflite"
    assert get_converter("tflite").uses("io_dtype", "int8") and not get_converter("tflite").uses("io_dtype", "fp32")
    assert get_converter("coreml").uses("scan_fp32", "fp16") and not get_converter("coreml").uses("scan_fp32", "fp32")
    assert {o for t in TARGETS for o in get_converter(t).reads} == set(OPTION_FLAGS)


def _checkpoint_names(tmp_path: Path, *paths: Path, labels: str | None = None) -> list[str]:
    from mvedge.commands.conversion import artifact_paths, plan
    from mvedge.model.bundle import load_bundle

    return [artifact_paths(load_bundle(str(p), labels=labels), plan("onnx", None), tmp_path)[0].name for p in paths]


def test_checkpoints_differing_in_one_weight_get_different_names(tmp_path: Path) -> None:
    """Two fine-tunings of one variant (here: one weight apart) never share a name; the same file
    twice, or a copy of it, does; the name carries the first 8 hex digits of the file's sha256."""
    import torch

    from mvedge.artifact import sha256_of
    from mvedge.model.checkpoints import save_checkpoint
    from mvedge.model.configs import test_config
    from mvedge.verify.reference import seeded_model

    model = seeded_model(test_config("tiny"))
    first, second, copy = tmp_path / "a.safetensors", tmp_path / "b.safetensors", tmp_path / "c.safetensors"
    save_checkpoint(model, first)
    copy.write_bytes(first.read_bytes())
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] += 0.5
    save_checkpoint(model, second)
    a, b, a_again, a_copy = _checkpoint_names(tmp_path, first, second, first, copy)
    assert a != b and a == a_again == a_copy
    assert a == f"mambavision-custom-{sha256_of(first)[:8]}-{model.config['image_size']}-onnx-fp32.onnx"


def test_a_new_head_is_named(tmp_path: Path, tiny_checkpoint: Path) -> None:
    """--num-classes N gives another model than the checkpoint's own head: 'head<N>' after the hash."""
    import warnings

    from mvedge.commands.conversion import artifact_paths, plan
    from mvedge.model.bundle import load_bundle

    (plain,) = _checkpoint_names(tmp_path, tiny_checkpoint)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bundle = load_bundle(str(tiny_checkpoint), num_classes=7)
    headed = artifact_paths(bundle, plan("onnx", None), tmp_path)[0].name
    size = bundle.image_size
    assert headed == plain.replace(f"-{size}-onnx", f"-head7-{size}-onnx") and headed != plain


def test_a_labels_file_changes_the_name_unless_it_names_the_classes_as_before(tmp_path: Path, tiny_checkpoint: Path) -> None:
    from mvedge.commands.conversion import artifact_paths, plan
    from mvedge.model.bundle import load_bundle

    num_classes = load_bundle(str(tiny_checkpoint)).config["num_classes"]
    ours, theirs = tmp_path / "ours.txt", tmp_path / "theirs.txt"
    ours.write_text("".join(f"class {i}\n" for i in range(num_classes)))
    theirs.write_text("".join(f"kind {i}\n" for i in range(num_classes)))
    (plain,) = _checkpoint_names(tmp_path, tiny_checkpoint)
    (with_ours,) = _checkpoint_names(tmp_path, tiny_checkpoint, labels=str(ours))
    (with_theirs,) = _checkpoint_names(tmp_path, tiny_checkpoint, labels=str(theirs))
    assert len({plain, with_ours, with_theirs}) == 3 and with_ours.startswith(plain.removesuffix(".onnx") + "-labels")
    digits = tmp_path / "digits.txt"
    digits.write_text("".join(f"{i}\n" for i in range(10)))  # the embedded model's own names: the same artifact
    names = [artifact_paths(load_bundle(labels=labels), plan("onnx", None), tmp_path)[0].name for labels in (None, str(digits))]
    assert names == ["mambavision-digits-128-onnx-fp32.onnx"] * 2
