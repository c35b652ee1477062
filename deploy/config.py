"""Deploy settings: frozen dataclass defaults; configs/deploy/<robot>.yaml holds per-robot deltas,
configs/deploy/sim.yaml the deltas for `--sim`, and `--set key=value` overrides either."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from common.config import load_config
from safety import MotorThresholds

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs" / "deploy"
MAX_EXTRA_KD = 5.0  # motion.extra_kd above this would mask, not compensate, a damping gap


@dataclass(frozen=True)
class SafetyCfg:
    """Thresholds of the safety layers run by the motor loop."""

    max_tilt_deg: float = 60.0  # roll or pitch beyond this -> DAMP
    target_speed_factor: float = 1.0  # rate limit = factor x joint velocity limit
    torque_factor: float = 1.0  # torque-estimate bound = factor x effort limit
    # targets clamp to mid +- factor x half each joint's physical range (1: the range itself;
    # 0.9: IsaacLab's soft limits, which training does not clamp to: safety/limits.py)
    target_range_factor: float = 1.0
    state_hold_s: float = 0.006  # LowState older than this: hold the last safe targets
    state_damp_s: float = 0.010  # ... older than this: DAMP
    policy_grace_s: float = 0.002  # slack on the policy deadline before a miss is counted
    # The supervisor damps (without the loops) when the motor loop has not started a tick for
    # this long: a loop blocked inside a tick holds every LowCmd writer's lock.
    loop_stall_s: float = 0.1
    max_lost_per_window: int = 20  # motor lost-frame counters, summed increase per window
    lost_window_s: float = 1.0
    max_temperature_c: float = 90.0
    min_battery_v: float = 0.0
    budget_share: float = 0.25  # refuse POLICY when inference p99 exceeds this share of a period
    foreign_poll_s: float = 0.2  # how often discovery is checked for another rt/lowcmd writer

    def motor_thresholds(self) -> MotorThresholds:
        """The motor and battery thresholds above, in the form safety.MotorHealth checks."""
        return MotorThresholds(
            max_lost_per_window=self.max_lost_per_window,
            lost_window_s=self.lost_window_s,
            max_temperature_c=self.max_temperature_c,
            min_battery_v=self.min_battery_v,
        )


@dataclass(frozen=True)
class MotionCfg:
    """STAND interpolation and POLICY blend-in."""

    stand_speed_rad_s: float = 0.6  # fastest joint speed while standing up
    stand_min_s: float = 1.0  # standing up never takes less than this
    blend_s: float = 0.5  # POLICY blends from the stand targets over this long
    passive_kd: float = 0.0  # PASSIVE: kd with kp 0 (0 = zero torque)
    damping_kd: float = 0.0  # DAMP kd; 0 = the robot's damping_kd from robots/ (else 1..10)
    # kd added to the artifact's kd in STAND and POLICY (N m s/rad, 0 to MAX_EXTRA_KD): makes up
    # for passive joint damping the training model had and the target lacks. The shipped Go2
    # policies were trained on Menagerie's Go2 (joint damping 2.0); unitree_mujoco's Go2 has 0.1,
    # and there the policy shakes and falls unless 1.9 is added (README, unitree_mujoco).
    extra_kd: float = 0.0


@dataclass(frozen=True)
class RemoteCfg:
    """Remote chords ("+"-joined key names of deploy.io.remote.KEY_BITS)."""

    estop: str = "L2+B"  # damps from every state
    stand: str = "Start"  # PASSIVE -> STAND
    policy: str = "A"  # STAND -> POLICY
    silent_s: float = 2.0  # remote bytes frozen this long with a stick deflected: sticks read 0


@dataclass(frozen=True)
class CommandCfg:
    """Velocity commands from the remote's sticks."""

    deadband: float = 0.08  # stick magnitude below this reads as zero
    slew_per_s: float = 2.0  # largest change of vx, vy or wz per second


@dataclass(frozen=True)
class TimingCfg:
    """Loops and real-time settings."""

    command_hz: float = 500.0
    spin_us: float = 100.0  # sleep until this long before a deadline, then spin (measured:
    # SCHED_FIFO wake-ups land within ~100 us p99 on a stock kernel)
    rt_priority: int = 80  # SCHED_FIFO priority of the motor loop (policy loop: one less)
    helper_priority: int = 50  # SCHED_FIFO for DDS, recorder and supervisor threads
    cpus: tuple[int, ...] = ()  # CPUs to pin the daemon to; empty = leave as is
    budget_calls: int = 1000  # inference calls timed by the budget gate at start
    metrics_every_s: float = 5.0


@dataclass(frozen=True)
class AutoCfg:
    """--auto: walk the states on a timer."""

    passive_s: float = 0.5
    stand_hold_s: float = 0.5  # stay in STAND this long after standing up
    exit_after_damp_s: float = 0.3  # keep sending damping this long, then exit


@dataclass(frozen=True)
class RecorderCfg:
    """Flight recorder (MCAP)."""

    max_bytes: int = 256 * 1024 * 1024  # a log stops growing (with a message) at this size
    flush_s: float = 0.2  # a crash loses at most about this much
    # A log that cannot be written (disk full, I/O error) damps the robot; true: warn once and
    # run on unrecorded. Start-up always refuses a --log that is unwritable or lacks max_bytes.
    continue_unrecorded: bool = False


@dataclass(frozen=True)
class SimCfg:
    """--sim: the genpo-sim control channel used for ground-truth metrics."""

    control_port: int = 0  # genpo-sim's --control-port; 0 = no ground-truth metrics
    truth_hz: float = 10.0


@dataclass(frozen=True)
class DeployCfg:
    safety: SafetyCfg = field(default_factory=SafetyCfg)
    motion: MotionCfg = field(default_factory=MotionCfg)
    remote: RemoteCfg = field(default_factory=RemoteCfg)
    commands: CommandCfg = field(default_factory=CommandCfg)
    timing: TimingCfg = field(default_factory=TimingCfg)
    auto: AutoCfg = field(default_factory=AutoCfg)
    recorder: RecorderCfg = field(default_factory=RecorderCfg)
    sim: SimCfg = field(default_factory=SimCfg)


def load_deploy_cfg(robot: str, sim: bool, overrides: tuple[str, ...] = ()) -> DeployCfg:
    """Defaults <- configs/deploy/<robot>.yaml <- configs/deploy/sim.yaml (with --sim) <- --set."""
    paths = [p for p in (CONFIG_DIR / f"{robot}.yaml",) if p.is_file()]
    if sim and (CONFIG_DIR / "sim.yaml").is_file():
        paths.append(CONFIG_DIR / "sim.yaml")
    return load_config(DeployCfg, paths, overrides)
