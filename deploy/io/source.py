"""What kind of LowState source the daemon is talking to, and what it is waiting for.

Three jobs the motor loop hands over, each a few lines of state:

- Freshness tick. The watchdog trusts an advancing `tick`. Unitree's own simulator
  (unitree_mujoco's simulate_python) never sets it: with `sim_sources` (`--sim`) a source whose
  tick has not changed over TICKLESS_FRAMES valid frames, and never advanced, is recognised
  (one line) and freshness falls back to message arrival. A tick that advanced once is trusted
  for good, so a publisher that freezes still trips TICK_STALLED; a source that stops sending
  still trips STALE_STATE. Without `--sim` there is no fallback at all.
- Wireless remote presence (docs: README "Losing the remote"). Unitree documents no link flag and
  no loss behaviour for LowState.wireless_remote: the bytes simply stop changing. A block that
  has been all zero since start is "no remote seen" (unitree_mujoco without a gamepad); a block
  frozen byte for byte for `silent_s` after it once changed is "silent". Rule: silent while a
  stick is deflected -> the stick command is held at zero (the policy keeps the robot standing,
  balanced, instead of walking on a frozen command) until the block changes again; every
  transition is one line, and the lines say the e-stop chord cannot be relied on (Ctrl-C /
  SIGTERM still damp).
- CONNECT diagnosis: after CONNECT_REPORT_S in CONNECT, one line naming what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deploy.config import RemoteCfg
from deploy.io.remote import RemoteState

TICKLESS_FRAMES = 50  # ~0.25 s of unitree_mujoco's 200 Hz LowState
CONNECT_REPORT_S = 3.0
_NO_REMOTE = RemoteState()


class SourceWatch:
    """Per-source bookkeeping used by the motor loop (one writer: the motor loop)."""

    def __init__(
        self,
        log: Callable[[str], None],
        sim_sources: bool = False,
        where: str = "rt/lowstate",
        remote_silent_s: float = RemoteCfg.silent_s,
    ) -> None:
        self.log = log
        self.sim_sources = sim_sources
        self.where = where
        self.samples = 0  # LowState samples taken (valid or not)
        # tick
        self._last_tick: int | None = None
        self._same_tick = 0
        self._advanced = False
        self.tickless = False
        self._offset = 0  # freshness tick = arrival count while tickless, tick + offset after
        # remote
        self._silent_ns = int(remote_silent_s * 1e9)
        self._remote = _NO_REMOTE
        self._remote_since_ns: int | None = None
        self.remote_seen = False
        self.remote_silent = False
        self._said_no_remote = False
        # connect
        self._connect_said = False
        self._connect_start_ns: int | None = None

    # --- freshness ----------------------------------------------------------------------------
    def freshness_tick(self, tick: int) -> int | None:
        """The tick the LowState watchdog should see for a valid frame carrying `tick`; None
        while the source is undecided (its tick has never changed and, with `sim_sources`, it
        is not yet recognised as tick-less): such a frame does not count as fresh."""
        if self._last_tick is not None and tick != self._last_tick and not self._advanced:
            self._advanced = True
            if self.tickless:  # continue from the arrival count: no backwards jump
                self._offset = self._last_tick + self._same_tick + 1 - tick
                self.log(f"LowState tick started advancing ({tick}): checking it from now on")
                self.tickless = False
        elif not self._advanced:
            self._same_tick += 1
            if self.sim_sources and not self.tickless and self._same_tick >= TICKLESS_FRAMES:
                self.tickless = True
                self._offset = 0
                self.log(
                    f"LowState tick never advances (stays at {tick}, as unitree_mujoco sends it): "
                    "freshness falls back to message arrival for this simulator"
                )
        self._last_tick = tick
        if self.tickless:
            return (tick + self._same_tick) & 0xFFFFFFFF
        if not self._advanced:
            return None
        return (tick + self._offset) & 0xFFFFFFFF

    # --- remote -------------------------------------------------------------------------------
    def sticks(self, remote: RemoteState, now_ns: int) -> tuple[float, float, float]:
        """(lx, ly, rx) the stick command may use: zero while the remote is silent."""
        if remote != self._remote or self._remote_since_ns is None:
            if remote != self._remote:
                self.remote_seen = True
            if self.remote_silent:
                self.remote_silent = False
                self.log("wireless remote is back: stick commands resume")
            self._remote, self._remote_since_ns = remote, now_ns
        elif now_ns - self._remote_since_ns > self._silent_ns:
            self._remote_unchanged(remote)
        if self.remote_silent:
            return (0.0, 0.0, 0.0)
        return (remote.lx, remote.ly, remote.rx)

    def _remote_unchanged(self, remote: RemoteState) -> None:
        if not self.remote_seen:
            if not self._said_no_remote:
                self._said_no_remote = True
                self.log(
                    "no wireless remote input (its 40 LowState bytes are all zero): the e-stop "
                    "chord needs a remote; Ctrl-C or SIGTERM damps"
                )
            return
        deflected = any(v != 0.0 for v in (remote.lx, remote.ly, remote.rx))
        if deflected and not self.remote_silent:
            self.remote_silent = True
            self.log(
                "wireless remote silent (bytes frozen with a stick deflected): stick command held "
                "at zero until it changes; the e-stop chord may be gone, Ctrl-C or SIGTERM damps"
            )

    # --- CONNECT ------------------------------------------------------------------------------
    def connect_wait(self, now_ns: int, parser: Any, fresh: bool) -> None:
        """Called every CONNECT tick; once CONNECT has waited CONNECT_REPORT_S, says what for."""
        if self._connect_start_ns is None:
            self._connect_start_ns = now_ns
        waited_s = (now_ns - self._connect_start_ns) * 1e-9
        if self._connect_said or waited_s < CONNECT_REPORT_S:
            return
        self._connect_said = True
        self.log(f"CONNECT: waiting {waited_s:.0f} s so far: {self._missing(parser, fresh)}")

    def _missing(self, parser: Any, fresh: bool) -> str:
        if self.samples == 0:
            return (
                f"no LowState at all on {self.where}: is the robot or simulator running, on "
                "this DDS domain and interface?"
            )
        committed = parser.frames - sum(parser.bad_frames.values())
        if committed == 0:
            why = ", ".join(f"{n} {r}" for r, n in parser.bad_frames.items())
            return f"{self.samples} LowState frames arrived, every one rejected ({why})"
        if not fresh and not self._advanced:
            extra = "" if self.sim_sources else " (a tick-less simulator is accepted with --sim)"
            return (
                f"LowState arrives but its tick never advances (stays at {self._last_tick}){extra}"
            )
        if not fresh:
            return "LowState stopped arriving or its tick stopped advancing"
        return "the start-up checks (artifact, inference budget)"
