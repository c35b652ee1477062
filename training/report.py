"""End-of-run summary: the numbers that matter and a training-curve PNG in the run directory."""

from __future__ import annotations

from pathlib import Path

CURVES = (
    ("episode/mean_return", "mean episode return"),
    ("episode/mean_length", "mean episode length (steps)"),
    ("perf/env_steps_per_s", "env steps / s"),
)


def read_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar TensorBoard holds for the run, as (iteration, value) pairs."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def plot_curves(scalars: dict[str, list[tuple[int, float]]], out: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    present = [(tag, label) for tag, label in CURVES if scalars.get(tag)]
    if not present:
        return None
    fig, axes = plt.subplots(len(present), 1, figsize=(7, 2.4 * len(present)), sharex=True)
    for ax, (tag, label) in zip(list(fig.axes), present, strict=True):
        steps, values = zip(*scalars[tag], strict=True)
        ax.plot(steps, values)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes_list = list(fig.axes)
    axes_list[-1].set_xlabel("iteration")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def summarize(run_dir: Path, task: str, iteration: int, elapsed_s: float) -> None:
    scalars = read_scalars(run_dir)
    png = plot_curves(scalars, run_dir / "training_curve.png")

    def last(tag: str) -> str:
        values = scalars.get(tag)
        return f"{values[-1][1]:.3f}" if values else "n/a"

    ckpt = run_dir / f"model_{iteration}.pt"
    print(f"genpo-train: done at iteration {iteration} ({elapsed_s / 60:.1f} min this run)")
    print(
        f"  mean return {last('episode/mean_return')}, mean length "
        f"{last('episode/mean_length')}, env steps/s {last('perf/env_steps_per_s')}"
    )
    if png is not None:
        print(f"  training curve: {png}")
    print(f"  checkpoint: {ckpt}")
    # genpo-eval reads the training settings the checkpoint records (its history) itself
    print(f"  next: genpo-eval {ckpt} --task {task}   |   genpo-export {ckpt}")
