"""`genpo-export`: checkpoint (or IsaacLab ONNX) -> self-describing policy.onnx (+ TensorRT).

    genpo-export runs/go2_rough/<run>/model_1500.pt --trt
    genpo-export --from-onnx policy.onnx --robot go2 --task go2_flat --out exported/

Every user mistake prints one sentence and exits with code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from common.cli import user_errors_exit
from common.errors import UserError
from common.files import new_dirs_removed_on_error, writable_dir
from export.exporter import ExportOptions, ExportResult, export_checkpoint
from export.from_onnx import import_onnx


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="genpo-export",
        description="Export a trained GenPO/PPO checkpoint to a fixed-step ONNX policy whose "
        "metadata carries the robot contract, provenance and golden vectors.",
    )
    p.add_argument("checkpoint", nargs="?", help="model_<it>.pt written by genpo-train")
    p.add_argument(
        "--out",
        metavar="DIR",
        help="output directory (default: <run_dir>/exported for a checkpoint, the current "
        "directory for --from-onnx); the file is DIR/policy.onnx",
    )
    p.add_argument(
        "--noise",
        choices=("zero", "input"),
        default="zero",
        help="latent of the flow: 'zero' (deterministic) or 'input' (adds a [batch, 2d] "
        "'noise' input); default: zero",
    )
    p.add_argument(
        "--trt",
        action="store_true",
        help="also build a TensorRT engine policy.engine (+ policy.engine.json); default: off",
    )
    p.add_argument("--fp16", action="store_true", help="build the engine in fp16; default: fp32")
    p.add_argument(
        "--golden", type=int, default=8, metavar="N", help="golden vectors to store (default: 8)"
    )
    p.add_argument(
        "--latency-calls",
        type=int,
        default=10_000,
        metavar="N",
        help="timed calls of the latency report, 0 to skip (default: 10000)",
    )
    p.add_argument(
        "--from-onnx",
        metavar="ONNX",
        help="wrap a policy exported by IsaacLab (input 'obs', output 'actions') instead of a "
        "checkpoint; needs --robot and --task (default: unset)",
    )
    p.add_argument("--robot", help="robot id, e.g. go2 or h1 (default: from the checkpoint)")
    p.add_argument("--task", help="task id, e.g. go2_flat (default: from the checkpoint)")
    return p


def _run(args: argparse.Namespace) -> ExportResult:
    if args.golden < 1:
        raise UserError(f"--golden must be at least 1, got {args.golden}")
    if args.latency_calls < 0:
        raise UserError(f"--latency-calls must be 0 (skip) or more, got {args.latency_calls}")
    if args.fp16 and not args.trt:
        raise UserError("--fp16 builds the TensorRT engine in fp16; it goes with --trt")
    if args.from_onnx and args.checkpoint is not None:
        raise UserError("pass a checkpoint or --from-onnx ONNX, not both")
    opts = ExportOptions(noise=args.noise, golden=args.golden, latency_calls=args.latency_calls)
    if args.from_onnx:
        if args.robot is None or args.task is None:
            raise UserError("--from-onnx needs --robot and --task to pick the policy contract")
        out = Path(args.out or ".")
        with new_dirs_removed_on_error(out):  # a refused import leaves no --out folder behind
            writable_dir(out, "output directory", "--out")
            return import_onnx(args.from_onnx, args.robot, args.task, out / "policy.onnx", opts)
    if args.checkpoint is None:
        raise UserError("pass a checkpoint path (model_<it>.pt) or --from-onnx ONNX")
    return export_checkpoint(args.checkpoint, args.out, opts, args.robot, args.task)


def _report(result: ExportResult, args: argparse.Namespace) -> None:
    print(f"wrote {result.onnx_path}")
    physics = result.document.get("provenance", {}).get("physics")
    if physics:
        print(f"trained on: {physics} (recorded in provenance.physics)")
    if result.parity_samples:
        print(
            f"parity torch vs ONNX Runtime: max abs error {result.parity_max_abs_err:.3g} "
            f"over {result.parity_samples} observations"
        )
    lat = result.latency_us
    if lat:
        print(
            f"latency (ORT CPU, batch 1, 1 thread, {lat['calls']} calls): p50 {lat['p50']} us, "
            f"p99 {lat['p99']} us, max {lat['max']} us"
        )
    if args.trt:
        _trt(result, args)


def _trt(result: ExportResult, args: argparse.Namespace) -> None:
    from export.trt import TrtUnavailable, export_engine

    try:
        engine = export_engine(result.onnx_path, result.document, args.fp16, args.latency_calls)
    except TrtUnavailable as exc:  # the ONNX is written and usable: a warning, exit 0
        print(f"genpo-export: warning: {exc}", file=sys.stderr)
        return
    lat = engine["latency_us"] or {}
    print(
        f"wrote {result.onnx_path.with_suffix('.engine')} ({engine['precision']}): golden max "
        f"abs error {engine['golden_max_abs_err']:.3g}, p50 {lat.get('p50')} us"
    )


@user_errors_exit("genpo-export")
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _report(_run(args), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
