#!/usr/bin/env python
"""Quantization figures (BENCHMARKS.md section 5): PTQ and QAT int8 per target, observers,
sensitivity, and the checks behind mvedge.quant's shortcuts.

Parts (each job runs in its own subprocess, so memory and toolchain state do not leak):
- `embedded`: the embedded digits model on all 360 held-out digits: float top-1; PTQ int8 for
  ExecuTorch (.pte in the ExecuTorch runtime), LiteRT (.tflite in ai-edge-litert) and Core ML
  (.mlpackage in mvedge's MIL interpreter) with each observer; QAT int8 per target (`mvedge qat`
  on the 1,437 training digits with labels, then `convert --precision int8` with the recorded
  recipe); artifact sizes; drift against the float model (for QAT also against the original).
- `sensitivity`: `mvedge quant-report` per target on the embedded model.
- `t224`: MambaVision-T at 224 px with random weights (no official checkpoint is available
  offline), int8 per target with the default observer, PSNR against float on 64 crops of the
  photos packaged with scikit-learn / scikit-image.
- `checks`: the PTQ convert without torchao's QAT conv-bn fold equals the full convert; the Core
  ML annotation restricted to the graph's activations equals the full one; ai-edge-quantizer's
  static_wi8_ai16 recipe, calibrated both ways, run in LiteRT (in a subprocess: it can abort);
  LiteRT int8 with each choice of float parts (all-integer, scan, + norms, + softmax), side by side.

    python benchmarks/bench_quant.py [--part embedded|sensitivity|t224|checks|all] [--quick]

Writes benchmarks/results/quant_<part>.json and prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
TARGETS = ("executorch", "tflite", "coreml")
OBSERVERS = ("minmax", "histogram", "percentile")
QAT_EPOCHS = 3
T224_SEED = 0
SENSITIVE = "levels.3.blocks.0,levels.2.blocks.0"  # what `mvedge quant-report` ranks worst on the digits model, every target


# ------------------------------------------------------------------ jobs (run in a subprocess each)


def _quiet() -> None:
    import warnings

    warnings.simplefilter("ignore")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _held_out(bundle):
    """All 360 held-out digits (images, labels, description)."""
    from mvedge.verify.data import verification_set

    return verification_set(bundle, limit=360)


def _convert(bundle, target: str, extra: dict, out_dir: Path, images, calibration=None) -> dict:
    from converters.base import ConvertOptions
    from converters.pipeline import convert
    from mvedge.progress import Progress

    options = ConvertOptions("int8", bundle.image_size, calibration=calibration, extra=dict(extra))
    start = time.perf_counter()
    artifact = convert(bundle, target, "int8", out_dir, options, force=True, images=images, progress=Progress(quiet=True))
    conversion = artifact.sidecar.conversion
    return {
        "target": target,
        "extra": extra,
        "size_bytes": artifact.size_bytes,
        "convert_seconds": round(artifact.convert_seconds, 1),
        "total_seconds": round(time.perf_counter() - start, 1),
        "drift": artifact.drift.to_dict() if artifact.drift else None,
        "verification": artifact.verify_note,
        "observer": conversion.get("observer") or (conversion.get("quantization") or {}).get("observer"),
        "path": str(artifact.path),
    }


def job_float(out_dir: Path) -> dict:
    import numpy as np
    import torch

    from mvedge.model.bundle import load_bundle

    bundle = load_bundle()
    images, labels, _ = _held_out(bundle)
    with torch.no_grad():
        logits = torch.cat([bundle.model(torch.from_numpy(images[i : i + 60])) for i in range(0, len(images), 60)]).numpy()
    fp32 = sum(t.numel() * 4 for t in bundle.model.state_dict().values())
    return {"top1": float(np.mean(logits.argmax(1) == labels)), "images": len(images), "fp32_weights_bytes": fp32}


def job_ptq(out_dir: Path, target: str, observer: str, *options: str) -> dict:
    """PTQ int8; options: `all_integer`, `scan_fp32`, `exclude=BLOCK,BLOCK`."""
    from mvedge.model.bundle import load_bundle

    bundle = load_bundle()
    extra: dict = {"observer": observer}
    for option in options:
        key, _, value = option.partition("=")
        extra[key] = value or True
    row = _convert(bundle, target, extra, out_dir, _held_out(bundle))
    row["kind"] = "ptq"
    return row


def job_qat(out_dir: Path, target: str, data: str, epochs: int) -> dict:
    """`mvedge qat` (a subprocess of its own), then convert its checkpoint like `mvedge convert` does."""
    import numpy as np

    from mvedge.commands.conversion import int8_options
    from mvedge.model.bundle import load_bundle
    from mvedge.quant.checkpoint import read_qat_info
    from mvedge.verify.metrics import compare
    from mvedge.verify.runners import open_runner

    checkpoint = out_dir / f"qat-{target}.safetensors"
    summary = out_dir / f"qat-{target}.json"
    command = [sys.executable, "-m", "mvedge.cli", "qat", "--target", target, "--data", data, "--labels", "--epochs", str(epochs),
               "--out", str(checkpoint), "--json", str(summary), "--force"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise RuntimeError(f"mvedge qat failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    info = read_qat_info(checkpoint)
    bundle = load_bundle(str(checkpoint))  # QAT metadata applied
    original = load_bundle()
    images, labels, description = _held_out(original)
    extra = int8_options({}, target, "int8", info)
    from mvedge.data.calibration import calibration_set

    row = _convert(bundle, target, extra, out_dir, (images, labels, description), calibration_set(original))
    outputs = open_runner(row["path"]).run_all(images)
    import torch

    with torch.no_grad():
        reference = np.concatenate([original.model(torch.from_numpy(images[i : i + 60])).numpy() for i in range(0, len(images), 60)])
        tuned = np.concatenate([bundle.model(torch.from_numpy(images[i : i + 60])).numpy() for i in range(0, len(images), 60)])
    row.update(
        kind="qat",
        qat={k: info[k] for k in ("epochs", "steps", "images", "seconds", "observer", "convert_options", "world_size")},
        drift_vs_original_float=compare(reference, outputs, labels).to_dict(),
        qat_float_top1=float(np.mean(tuned.argmax(1) == labels)),
    )
    return row


def job_sensitivity(out_dir: Path, target: str) -> dict:
    report = out_dir / f"report-{target}.json"
    done = subprocess.run([sys.executable, "-m", "mvedge.cli", "quant-report", "--target", target, "--json", str(report)],
                          capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise RuntimeError((done.stderr.strip().splitlines() or ["?"])[-1])
    return json.loads(report.read_text())


def job_t224(out_dir: Path, target: str, *options: str) -> dict:
    """MambaVision-T int8 with the default observer; options as for `job_ptq` (`all_integer`).
    Seeded random weights (the same in every job); converted without the pipeline's drift check,
    then checked here, so an artifact past its threshold is measured and marked instead of refused."""
    import resource

    import torch

    from converters.base import ConvertOptions
    from converters.pipeline import convert
    from mvedge.model.bundle import load_bundle
    from mvedge.progress import Progress
    from mvedge.verify.check import verify_artifact
    from mvedge.verify.data import verification_set
    from mvedge.verify.thresholds import failures

    torch.manual_seed(T224_SEED)
    bundle = load_bundle(variant="T")
    extra: dict = {}
    for option in options:
        key, _, value = option.partition("=")
        extra[key] = value or True
    start = time.perf_counter()
    artifact = convert(bundle, target, "int8", out_dir, ConvertOptions("int8", bundle.image_size, extra=dict(extra)),
                       force=True, verify=False, progress=Progress(quiet=True))
    convert_seconds = round(time.perf_counter() - start, 1)
    peak = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    images, labels, description = verification_set(bundle)
    drift = verify_artifact(artifact.path, bundle, images, labels)
    problems = failures(drift, "int8")
    conversion = artifact.sidecar.conversion
    return {
        "target": target,
        "extra": extra,
        "size_bytes": artifact.size_bytes,
        "convert_seconds": convert_seconds,
        "peak_rss_mb": peak,
        "drift": drift.to_dict(),
        "images": description,
        "verification": "pass" if not problems else "past the int8 threshold: " + "; ".join(problems),
        "observer": conversion.get("observer") or (conversion.get("quantization") or {}).get("observer"),
        "weights": f"random initialisation, torch.manual_seed({T224_SEED}) (no official checkpoint offline)",
    }


def job_check_fold(out_dir: Path) -> dict:
    """PTQ convert with and without torchao's QAT conv-bn fold: same graph outputs?"""
    import torch
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from mvedge.data.calibration import calibration_set
    from mvedge.model.bundle import load_bundle
    from mvedge.quant import pt2e

    bundle = load_bundle()
    images = torch.from_numpy(calibration_set(bundle, limit=32))
    rows = {}
    for target in ("executorch", "coreml"):
        captured, step = pt2e.capture(bundle.model, images, images[:1])
        prepared = prepare_pt2e(captured, pt2e.recipe_quantizer(target, observer="minmax"))
        pt2e.calibrate(prepared, images, step)
        import copy

        start = time.perf_counter()
        fast = pt2e.convert(copy.deepcopy(prepared))
        fast_s = time.perf_counter() - start
        start = time.perf_counter()
        full = convert_pt2e(prepared)
        full_s = time.perf_counter() - start
        with torch.no_grad():
            diff = float((fast(images) - full(images)).abs().max())
        rows[target] = {"max_abs_difference": diff, "fast_seconds": round(fast_s, 1), "full_seconds": round(full_s, 1)}
    return rows


def job_check_coreml_patterns(out_dir: Path) -> dict:
    """CoreMLQuantizer with the activation patterns restricted to the graph's, against all of them."""
    import contextlib

    import torch

    from mvedge.data.calibration import calibration_set
    from mvedge.model.bundle import load_bundle
    from mvedge.quant import pt2e

    bundle = load_bundle()
    images = torch.from_numpy(calibration_set(bundle, limit=16))
    start = time.perf_counter()
    restricted = pt2e.quantize_ptq(bundle.model, "coreml", images, images[:1], "minmax")
    restricted_s = time.perf_counter() - start
    original = pt2e._coreml_activations_in
    pt2e._coreml_activations_in = lambda model: contextlib.nullcontext()
    try:
        start = time.perf_counter()
        full = pt2e.quantize_ptq(bundle.model, "coreml", images, images[:1], "minmax")
        full_s = time.perf_counter() - start
    finally:
        pt2e._coreml_activations_in = original
    with torch.no_grad():
        diff = float((restricted(images) - full(images)).abs().max())
    count = lambda gm: sum(1 for n in gm.graph.nodes if "quantize_per" in str(n.target))  # noqa: E731
    return {"max_abs_difference": diff, "qdq_nodes": [count(restricted), count(full)], "restricted_seconds": round(restricted_s, 1), "full_seconds": round(full_s, 1)}


_A16_RUN = """
import sys, numpy as np, torch
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from mvedge.model.bundle import load_bundle
from mvedge.verify.data import verification_set
from mvedge.verify.metrics import compare
bundle = load_bundle(); images, labels, _ = verification_set(bundle, limit=360)
interpreter = Interpreter(model_path=sys.argv[1], experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
interpreter.allocate_tensors()
d, o = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
out = []
for image in images:
    interpreter.set_tensor(d["index"], image[None]); interpreter.invoke(); out.append(interpreter.get_tensor(o["index"]).copy())
with torch.no_grad(): ref = bundle.model(torch.from_numpy(images)).numpy()
print(__import__("json").dumps(compare(ref, np.concatenate(out), labels).to_dict()))
"""


def job_check_a16(out_dir: Path) -> dict:
    """static_wi8_ai16 (int8 weights, int16 activations): quantize with ai-edge-quantizer's own
    (moving-average) calibration and with the global min/max, run each in LiteRT."""
    import torch
    from ai_edge_quantizer import calibrator, qtyping, quantizer, recipe, recipe_manager
    from ai_edge_quantizer.algorithm_manager import AlgorithmName
    from ai_edge_quantizer.utils import qsv_utils

    from mvedge.quant import litert as tq
    from converters.tflite import litert_torch_float32
    from mvedge.data.calibration import calibration_set
    from mvedge.model.bundle import load_bundle
    from mvedge.progress import Progress

    bundle = load_bundle()
    float_model = litert_torch_float32(bundle.model, torch.zeros(1, 3, bundle.image_size, bundle.image_size), False, Progress(quiet=True))
    manager = recipe_manager.RecipeManager()
    manager.load_quantization_recipe(recipe.static_wi8_ai16())
    for io_op in (qtyping.TFLOperationName.INPUT, qtyping.TFLOperationName.OUTPUT):
        manager.add_quantization_config(".*", io_op, None, AlgorithmName.NO_QUANTIZE)
    a16 = manager.get_quantization_recipe()
    batches = [image[None] for image in calibration_set(bundle)]
    signature, name = tq._signature(float_model)
    rows = {}
    for calibration in ("moving_average", "min_max"):
        update = qsv_utils.moving_average_update if calibration == "moving_average" else qsv_utils.min_max_update
        engine = calibrator.Calibrator(bytes(float_model), num_threads=2, qsv_update_func=update)
        engine.calibrate({signature: [{name: b} for b in batches]}, manager)
        stats = engine.get_model_qsvs()
        tq.widen_degenerate_ranges(stats)
        try:
            model = quantizer.Quantizer(bytearray(float_model), a16).quantize(stats).quantized_model
        except Exception as exc:  # noqa: BLE001
            rows[calibration] = {"quantize_error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}
            continue
        path = out_dir / f"a16-{calibration}.tflite"
        path.write_bytes(bytes(model))
        done = subprocess.run([sys.executable, "-c", _A16_RUN, str(path)], capture_output=True, text=True, cwd=REPO)
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if "Error" in line or "failed" in line]
            rows[calibration] = {"size_bytes": path.stat().st_size, "runtime_error": (lines or ["exit %d" % done.returncode])[-1][:300]}
        else:
            rows[calibration] = {"size_bytes": path.stat().st_size, "drift": json.loads(done.stdout.strip().splitlines()[-1])}
    return rows


def job_float_parts(out_dir: Path, model: str) -> dict:
    """LiteRT int8 with each choice of float parts (none = all-integer, scan, scan + norms, scan +
    norms + softmax = the default) from one float .tflite and one calibration: PSNR against the
    float model and median latency (XNNPACK, 2 threads), side by side."""
    import statistics

    import numpy as np
    import torch
    from ai_edge_litert.interpreter import Interpreter

    from mvedge.quant import litert as tq
    from converters.tflite import litert_torch_float32
    from mvedge.data.calibration import calibration_set
    from mvedge.model.bundle import load_bundle
    from mvedge.progress import Progress
    from mvedge.verify.data import verification_set
    from mvedge.verify.metrics import compare

    torch.manual_seed(T224_SEED)
    bundle = load_bundle() if model == "embedded" else load_bundle(variant=model)
    images, labels, description = _held_out(bundle) if model == "embedded" else verification_set(bundle)
    calibration = [image[None] for image in calibration_set(bundle)]
    with torch.no_grad():
        reference = np.concatenate([bundle.model(torch.from_numpy(images[i : i + 8])).numpy() for i in range(0, len(images), 8)])
    example = torch.zeros(1, 3, bundle.image_size, bundle.image_size)
    float_model = litert_torch_float32(bundle.model, example, False, Progress(quiet=True))

    def run(flatbuffer: bytes) -> tuple[np.ndarray, float]:
        interpreter = Interpreter(model_content=flatbuffer, num_threads=2)
        interpreter.allocate_tensors()
        source, sink = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
        outputs, times = [], []
        for image in images:
            interpreter.set_tensor(source, np.ascontiguousarray(image[None]))
            start = time.perf_counter()
            interpreter.invoke()
            times.append(time.perf_counter() - start)
            outputs.append(interpreter.get_tensor(sink).copy())
        return np.concatenate(outputs), statistics.median(times) * 1000

    rows = {"fp32": {"latency_ms": round(run(float_model)[1], 2), "size_bytes": len(float_model)}}
    for parts in ((), ("scan",), ("scan", "norms"), ("scan", "norms", "softmax")):
        quantized, _ = tq.quantize(float_model, "int8", calibration, "float32", keep_float=parts, observer="minmax")
        outputs, ms = run(quantized)
        rows["+".join(parts) or "none (all-integer)"] = {"drift": compare(reference, outputs, labels).to_dict(), "latency_ms": round(ms, 2),
                                                         "size_bytes": len(quantized)}
    return {"model": model, "images": description, "calibration_images": len(calibration), "rows": rows}


JOBS = {
    "float": job_float,
    "ptq": job_ptq,
    "qat": job_qat,
    "sensitivity": job_sensitivity,
    "t224": job_t224,
    "check_fold": job_check_fold,
    "check_coreml_patterns": job_check_coreml_patterns,
    "check_a16": job_check_a16,
    "float_parts": job_float_parts,
}


# ------------------------------------------------------------------ driver


ONLY: str | None = None  # --only: run just the jobs whose label starts with this, merge into the results file


def _run_job(name: str, *args: str, out_dir: Path) -> dict | None:
    label = " ".join((name,) + args)
    if ONLY and not label.startswith(ONLY):
        return None
    command = [sys.executable, __file__, "--job", name, "--out-dir", str(out_dir), *(["--args", *args] if args else [])]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    seconds = round(time.perf_counter() - start, 1)
    label = label.split(" /")[0]  # no temporary paths in the results
    if done.returncode != 0:
        error = (done.stderr.strip().splitlines() or ["?"])[-1]
        print(f"{label}: FAILED ({error})", file=sys.stderr, flush=True)
        return {"job": label, "error": error, "seconds": seconds}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{label}: done ({seconds} s)", file=sys.stderr, flush=True)
    return {"job": label, "seconds": seconds, "result": result}


def _digits_folder(root: Path) -> str:
    from mvedge.data.digits import digits_split

    pictures, labels = digits_split("train")
    for index, (picture, label) in enumerate(zip(pictures, labels)):
        folder = root / str(int(label))
        folder.mkdir(parents=True, exist_ok=True)
        picture.save(folder / f"{index:04d}.png")
    return str(root)


def _header() -> dict:
    import importlib.metadata as md

    versions = {}
    for name in ("torch", "torchao", "executorch", "coremltools", "litert-torch", "ai-edge-quantizer", "ai-edge-litert"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = None
    return {"machine": platform.machine(), "cores": os.cpu_count(), "load_average_start": os.getloadavg()[0], "versions": versions}


def part_embedded(out_dir: Path, quick: bool) -> dict:
    rows = [_run_job("float", out_dir=out_dir)]
    observers = ("minmax",) if quick else OBSERVERS
    for target in TARGETS:
        for observer in observers:
            rows.append(_run_job("ptq", target, observer, out_dir=out_dir))
    rows.append(_run_job("ptq", "tflite", "minmax", "all_integer", out_dir=out_dir))  # the integer-only variant
    for target, observer in (("executorch", "histogram"), ("tflite", "minmax"), ("coreml", "percentile")):  # quant-report's suggestion
        rows.append(_run_job("ptq", target, observer, f"exclude={SENSITIVE}", out_dir=out_dir))
    data = _digits_folder(out_dir / "digits_train")
    for target in TARGETS:
        rows.append(_run_job("qat", target, data, "1" if quick else str(QAT_EPOCHS), out_dir=out_dir))
    return {"jobs": rows}


def part_sensitivity(out_dir: Path, quick: bool) -> dict:
    return {"jobs": [_run_job("sensitivity", target, out_dir=out_dir) for target in TARGETS]}


def part_t224(out_dir: Path, quick: bool) -> dict:
    jobs = [_run_job("t224", target, out_dir=out_dir) for target in TARGETS]
    return {"jobs": jobs + [_run_job("t224", "tflite", "all_integer", out_dir=out_dir)]}


def part_checks(out_dir: Path, quick: bool) -> dict:
    jobs = [_run_job(name, out_dir=out_dir) for name in ("check_fold", "check_coreml_patterns", "check_a16")]
    return {"jobs": jobs + [_run_job("float_parts", model, out_dir=out_dir) for model in ("embedded", "T")]}


PARTS = {"embedded": part_embedded, "sensitivity": part_sensitivity, "t224": part_t224, "checks": part_checks}


def _table(part: str, record: dict) -> str:
    lines = []
    if part in ("embedded", "t224"):
        lines += ["| job | size MB | observer | top-1 | float top-1 | PSNR dB | cosine | top-1 agree | convert s |", "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
        for job in record["jobs"]:
            r = job.get("result")
            if r is None:
                lines.append(f"| {job['job']} | failed: {job['error']} |||||||")
                continue
            if "drift" not in r:
                lines.append(f"| {job['job']} | - | - | {r['top1']:.4f} | - | - | - | - | - |")
                continue
            d = r["drift"] or {}
            accuracy = f"{d['accuracy']:.4f}" if d.get("accuracy") is not None else "-"
            reference = f"{d['reference_accuracy']:.4f}" if d.get("reference_accuracy") is not None else "-"
            lines.append(
                f"| {job['job'].split(' /')[0]} | {r['size_bytes'] / 1e6:.2f} | {r.get('observer')} | {accuracy} | {reference} | {d.get('psnr_db', float('nan')):.1f} "
                f"| {d.get('cosine', float('nan')):.5f} | {d.get('top1_agreement', float('nan')):.4f} | {r['convert_seconds']} |"
            )
    else:
        lines.append("```")
        lines += [json.dumps(job, indent=1)[:3000] for job in record["jobs"]]
        lines.append("```")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", default="all", choices=[*PARTS, "all"])
    parser.add_argument("--quick", action="store_true", help="one observer and one QAT epoch")
    parser.add_argument("--only", help="run only the jobs whose label starts with this (e.g. 'qat coreml') and merge them into the part's results")
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("--args", nargs="*", default=[], help=argparse.SUPPRESS)
    parser.add_argument("--out-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        _quiet()
        print(json.dumps(JOBS[args.job](Path(args.out_dir), *args.args)))
        return
    from mvedge import strict_json

    global ONLY
    ONLY = args.only
    RESULTS.mkdir(parents=True, exist_ok=True)
    for part in (list(PARTS) if args.part == "all" else [args.part]):
        path = RESULTS / f"quant_{part}{'_quick' if args.quick else ''}.json"
        with tempfile.TemporaryDirectory(prefix="mvedge-bench-quant-") as tmp:
            record = {"part": part, "quick": args.quick, **_header()}
            record.update(PARTS[part](Path(tmp), args.quick))
            record["load_average_end"] = os.getloadavg()[0]
        record["jobs"] = [job for job in record["jobs"] if job is not None]
        if ONLY and path.exists():  # replace the earlier jobs under --only by the re-run ones, keep the rest
            earlier = strict_json.loads(path.read_text())
            fresh = {job["job"]: dict(job, rerun=True) for job in record["jobs"]}
            earlier_jobs = [dict(job, job=job["job"].split(" /")[0]) for job in earlier["jobs"]]
            jobs = [fresh.pop(job["job"], job) for job in earlier_jobs if job["job"] in fresh or not job["job"].startswith(ONLY)]
            record = dict(earlier, jobs=jobs + list(fresh.values()))
        strict_json.write_atomic(path, record, indent=1, newline=False)
        print(f"\n## {part}\n\n{_table(part, record)}\n\nwrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
