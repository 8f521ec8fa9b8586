"""`mvedge profile`: latency, load time, memory and per-operator time of artifacts, on this
machine or on a phone, or a table of saved results gathered from many devices."""

from __future__ import annotations

import argparse
import sys

from mvedge.atomic import check_output_file
from mvedge.commands.output import add_json_argument, emit_json, json_to_stdout
from mvedge.errors import BadInput
from mvedge.progress import Progress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `mvedge profile`."""
    parser.add_argument(
        "artifacts", nargs="+", metavar="ARTIFACT",
        help="one or more .onnx, .pte, .tflite (.mlpackage with --device ios); or saved results (*.json) to compare",
    )
    parser.add_argument("--threads", type=int, help="CPU threads for the runtime (default: this machine's CPUs; phone apps: 4)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs first (default 5)")
    parser.add_argument("--runs", type=int, default=50, help="timed runs (default 50)")
    parser.add_argument("--breakdown-runs", type=int, default=10, help="runs of the per-operator profile (default 10)")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the per-operator profile")
    add_json_argument(parser, "the result (one: an object; several: a list), which profile FILE reads back")
    parser.add_argument("--device", help="android[:SERIAL], ios[:UDID|:simulator] or 'qai-hub:DEVICE NAME' (default: this machine)")
    parser.add_argument("--tool", default="app", help="android: app (android_demo, default), benchmark_model (LiteRT), executorch_benchmark")
    parser.add_argument("--benchmark-model", metavar="FILE", help="android --tool benchmark_model: the benchmark_model binary to push")
    parser.add_argument("--compute-units", default="all", help="ios: all, cpuOnly, cpuAndGPU, cpuAndNeuralEngine (default all)")
    parser.add_argument("--no-push", action="store_true", help="ios: the model is already in the app (mvedge bundle); do not copy it")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for one artifact's profile (default 900)")


def _gather(paths: list[str], json_out: str | None) -> int:
    from mvedge.profile import format_results, load_results

    results = [r for p in paths for r in load_results(p)]
    if not json_to_stdout(json_out):
        print(format_results(results))
    emit_json(json_out, [r.to_dict() for r in results])
    return 0


def run(args: argparse.Namespace) -> int:
    """Profile each artifact; print its table (and a comparison for several); exit 1 if one failed to run."""
    from mvedge.profile import ProfileFailed, format_result, format_results, profile_host
    from mvedge.artifact import checked_artifact

    if args.json and args.json != "-":  # before any profiling
        check_output_file(args.json, "--json")
    if all(p.endswith(".json") for p in args.artifacts):
        return _gather(args.artifacts, args.json)
    if any(p.endswith(".json") for p in args.artifacts):
        raise BadInput("give either artifacts to profile or saved results (*.json) to compare, not both")
    if args.runs < 1 or args.warmup < 0 or args.breakdown_runs < 0:
        raise BadInput("--runs must be >= 1, --warmup and --breakdown-runs >= 0")
    if args.threads is not None and args.threads < 1:
        raise BadInput(f"--threads must be a positive integer, got {args.threads}")
    paths = [checked_artifact(p) for p in args.artifacts]
    spec = None
    if args.device:
        from mvedge.profile.devices import parse_device

        spec = parse_device(args.device)
    else:
        from mvedge.profile.host import check_host_profilable

        for path in paths:  # refuse before any work
            check_host_profilable(path)
    quiet = json_to_stdout(args.json)
    progress = Progress(quiet=quiet)
    breakdown_runs = 0 if args.no_breakdown else args.breakdown_runs
    results = []
    for path in paths:
        try:
            if spec is None:
                with progress.stage(f"profiling {path.name} on this machine"):
                    result = profile_host(path, args.threads, args.warmup, args.runs, breakdown_runs, progress.child(path.name), args.timeout)
            else:
                from mvedge.profile.devices import profile_on_device

                with progress.stage(f"profiling {path.name} on {args.device}"):
                    result = profile_on_device(
                        path, spec, args.threads or 4, args.warmup, args.runs, breakdown_runs > 0, args.tool,
                        args.benchmark_model, args.compute_units, not args.no_push, timeout=args.timeout,
                    )
        except ProfileFailed as exc:
            print(f"mvedge: error: {exc}", file=sys.stderr)
            return 1
        results.append(result)
        if not quiet:
            print(format_result(result))
            print()
    payload = results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results]
    if len(results) > 1 and not quiet:
        print(format_results(results))
    emit_json(args.json, payload)
    if args.json and not quiet:
        print(f"results: {args.json}", file=sys.stderr)
    return 0
