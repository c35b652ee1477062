"""The batch of MuJoCo simulations the backend steps: `mujoco.batch.Batch` (MuJoCo >= 4), or the
same subset of its interface stepped per env on a thread pool where it is missing.

IsaacLab 3.0's environment pins mujoco ~=3.12 (through Newton), which has no `mujoco.batch`;
the MuJoCo backend and `genpo-eval` (the sim-to-sim check of what IsaacLab trained) must still
run there. `ThreadedBatch` keeps Batch's layout: one mjSTATE_INTEGRATION
row per simulation in `state`, `bind("qpos")` / `bind("qvel")` live views of its columns, so the
backend code is the same on both. Set GENPO_MUJOCO_BATCH=threaded to force it on MuJoCo 4 (tests
do, to cover it in the default suite); MuJoCo 4 otherwise always takes `mujoco.batch.Batch`.
"""

from __future__ import annotations

import copy
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import mujoco
import numpy as np

FORCE_ENV = "GENPO_MUJOCO_BATCH"  # "threaded": use ThreadedBatch even where mujoco.batch exists
STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION
# Outputs of the last physics step a backend may bind (not part of the state row).
OUTPUT_FIELDS = ("qacc", "actuator_force")
# Model fields mj_setConst derives from masses and inertias (those that exist in this MuJoCo).
DERIVED_FIELDS = (
    "body_subtreemass",
    "body_invweight0",
    "dof_invweight0",
    "tendon_invweight0",
    "actuator_acc0",
    "actuator_length0",
    "tendon_length0",
    "dof_M0",
)

try:
    from mujoco.batch import Batch, SimulationError
except ImportError:  # MuJoCo < 4
    Batch = None

    class SimulationError(RuntimeError):  # never raised by ThreadedBatch; keeps one except
        ids: np.ndarray = np.zeros(0, dtype=np.int64)


def make_batch(model: mujoco.MjModel, num_envs: int, nthread: int = 0) -> Any:
    """mujoco.batch.Batch where it exists (unless forced off), else ThreadedBatch."""
    if Batch is not None and os.environ.get(FORCE_ENV, "") != "threaded":
        return Batch(model, num_envs, nthread=nthread)
    return ThreadedBatch(model, num_envs, nthread)


class ThreadedBatch:
    """`num_envs` simulations of one model, stepped with mj_step per env on `nthread` threads.

    The subset of `mujoco.batch.Batch` the backend uses: state, bind, expand, set_const,
    rollout (controls in, records out), reset, status, warning, get_data.
    """

    def __init__(self, model: mujoco.MjModel, num_envs: int, nthread: int = 0) -> None:
        self.model = model
        self.nsim = num_envs
        self.nthread = max(1, min(nthread or os.cpu_count() or 1, num_envs))
        self.nstate = mujoco.mj_stateSize(model, STATE_SPEC)
        fresh = mujoco.MjData(model)
        self._reset_row = np.empty(self.nstate)
        mujoco.mj_getState(model, fresh, self._reset_row, STATE_SPEC)
        self.state = np.tile(self._reset_row, (num_envs, 1))
        self.status = np.zeros(num_envs, dtype=np.int32)
        self.warning = np.zeros((num_envs, len(fresh.warning), 2), dtype=np.int64)
        self._outputs = {f: np.zeros((num_envs, *getattr(fresh, f).shape)) for f in OUTPUT_FIELDS}
        self._expanded: dict[str, np.ndarray] = {}
        self._derived: dict[str, np.ndarray] = {}
        self._workers = [(model, fresh)] + [
            (model, mujoco.MjData(model)) for _ in range(self.nthread - 1)
        ]
        self._pool = ThreadPoolExecutor(self.nthread) if self.nthread > 1 else None

    # ----- views -------------------------------------------------------------------------------

    def bind(self, field: str) -> np.ndarray:
        """[N, ...] live view: qpos / qvel are columns of `state`; outputs refresh each rollout."""
        if field in OUTPUT_FIELDS:
            return self._outputs[field]
        bits = {"qpos": mujoco.mjtState.mjSTATE_QPOS, "qvel": mujoco.mjtState.mjSTATE_QVEL}
        if field not in bits:
            raise KeyError(f"ThreadedBatch cannot bind {field!r}")
        start = mujoco.mj_stateSize(self.model, int(bits[field]) - 1 & STATE_SPEC)
        return self.state[:, start : start + mujoco.mj_stateSize(self.model, bits[field])]

    def expand(self, field: str) -> np.ndarray:
        """[N, ...] per-simulation copy of a model field; call set_const after writing masses."""
        if field not in self._expanded:
            self._expanded[field] = np.repeat(getattr(self.model, field)[None], self.nsim, axis=0)
            self._own_models()
        return self._expanded[field]

    def set_const(self) -> None:
        """Recompute, per simulation, the model constants derived from its expanded fields."""
        if not self._expanded:
            return
        model = self._workers[0][0]
        fields = [f for f in DERIVED_FIELDS if hasattr(model, f)]
        derived = {f: np.zeros((self.nsim, *getattr(model, f).shape)) for f in fields}
        derived["stat_meaninertia"] = np.zeros(self.nsim)
        for i in range(self.nsim):
            self._apply_expanded(model, i)
            mujoco.mj_setConst(model, self._workers[0][1])
            for f in fields:
                derived[f][i] = getattr(model, f)
            derived["stat_meaninertia"][i] = model.stat.meaninertia
        self._derived = derived

    def get_data(self, i: int, data: mujoco.MjData) -> None:
        """Copy simulation i's state into `data` (as Batch.get_data, for rendering)."""
        mujoco.mj_setState(self.model, data, self.state[i], STATE_SPEC)

    # ----- stepping ----------------------------------------------------------------------------

    def reset(self, ids: np.ndarray, stage: Any = None) -> None:
        """Back to the model's reset state: time, warm start and controls cleared. `stage` is
        Batch's; ignored here, as the next rollout computes everything from the state row."""
        self.state[ids] = self._reset_row
        self.warning[ids] = 0
        for out in self._outputs.values():
            out[ids] = 0.0

    def rollout(
        self,
        nstep: int,
        control: np.ndarray,
        record: tuple[str, ...] = ("sensordata",),
        out: dict[str, np.ndarray] | None = None,
    ) -> dict[str, np.ndarray]:
        """nstep physics steps of every simulation; control [N, nstep, nu] sets ctrl per step.

        A simulation whose warning counters rise stops stepping and keeps the state it had
        before that step; its remaining records repeat its last ones (Batch's contract).
        """
        out = dict(out or {})
        for name in record:
            if name not in out:
                shape = getattr(self._workers[0][1], name).shape
                out[name] = np.zeros((self.nsim, nstep, *shape))
        chunks = np.array_split(np.arange(self.nsim), self.nthread)
        jobs = [
            (w, c, nstep, control, record, out) for w, c in zip(self._workers, chunks, strict=True)
        ]
        if self._pool is None:
            for job in jobs:
                self._run(*job)
        else:
            list(self._pool.map(lambda job: self._run(*job), jobs))
        return out

    def _run(self, worker, ids, nstep, control, record, out) -> None:
        model, data = worker
        for i in ids:
            if self._expanded:
                self._apply_expanded(model, i)
                self._apply_derived(model, i)
            mujoco.mj_setState(model, data, self.state[i], STATE_SPEC)
            data.warning.number[:] = 0
            for k in range(nstep):
                data.ctrl[:] = control[i, k]
                mujoco.mj_step(model, data)
                if data.warning.number.any():
                    self.warning[i, :, 1] += data.warning.number
                    for name in record:
                        out[name][i, k:] = out[name][i, k - 1] if k else 0.0
                    break
                mujoco.mj_getState(model, data, self.state[i], STATE_SPEC)
                for name in record:
                    out[name][i, k] = getattr(data, name)
            for field, arr in self._outputs.items():
                arr[i] = getattr(data, field)

    # ----- per-simulation model fields ---------------------------------------------------------

    def _own_models(self) -> None:
        """Each thread gets its own model copy once a field differs per simulation."""
        if all(m is not self.model for m, _ in self._workers):
            return
        self._workers = [(copy.copy(self.model), d) for _, d in self._workers]

    def _apply_expanded(self, model: mujoco.MjModel, i: int) -> None:
        for field, values in self._expanded.items():
            getattr(model, field)[:] = values[i]

    def _apply_derived(self, model: mujoco.MjModel, i: int) -> None:
        for field, values in self._derived.items():
            if field == "stat_meaninertia":
                model.stat.meaninertia = values[i]
            else:
                getattr(model, field)[:] = values[i]
