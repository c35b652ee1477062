#!/usr/bin/env bash
# The main job, end to end on the built-in MuJoCo backend (CPU only, ~5 minutes):
#   1. a short GenPO training run of go2_flat (checks the training path; 3 iterations do not walk)
#   2. genpo-export of that run (parity + latency checks, metadata, golden vectors)
#   3. genpo-eval of the shipped, fully trained go2_flat policy (GenPO), with a video
#   4. genpo-sim (MuJoCo Go2 on Unitree DDS, loopback) + genpo-deploy --sim running that policy
#      under a forward command; the daemon prints its JSON summary.
# Everything lands in runs/demo/<time>/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
export PATH="$PWD/.venv/bin:$PATH"
if [ -z "${MENAGERIE_ROOT:-}" ] && [ -d ../shared/menagerie ]; then
  export MENAGERIE_ROOT="$(cd ../shared/menagerie && pwd)"  # offline copy (dev machines, CI)
fi
OUT="runs/demo/$(date +%Y%m%d-%H%M%S)"
SHIPPED="assets/policies/go2_flat/policy.onnx"
mkdir -p "$OUT"

echo "== 1/4 genpo-train go2_flat (short run)"
genpo-train go2_flat --num-envs 32 --max-iterations 3 --run-dir "$OUT/train" --torch-threads 1 \
  --no-progress

echo "== 2/4 genpo-export"
genpo-export "$OUT/train/model_3.pt" --latency-calls 2000

echo "== 3/4 genpo-eval of the shipped policy (video: $OUT/eval.mp4)"
genpo-eval "$SHIPPED" --task go2_flat --episodes 2 --duration-s 10 --commands scripted \
  --video "$OUT/eval.mp4" --json "$OUT/eval.json"

echo "== 4/4 genpo-sim + genpo-deploy --sim"
PORT=47601  # the sim's control channel: the daemon reads ground truth (height, velocity) there
genpo-sim --robot go2 --duration 45 --headless --control-port "$PORT" > "$OUT/sim.log" 2>&1 &
SIM_PID=$!
trap 'kill $SIM_PID 2>/dev/null || true' EXIT
sleep 3
genpo-deploy --robot go2 --sim --policy "$SHIPPED" --auto --cmd 0.5,0,0 --duration 25 \
  --log "$OUT/flight" --set sim.control_port="$PORT" | tee "$OUT/deploy.log"
kill "$SIM_PID" 2>/dev/null || true
wait "$SIM_PID" 2>/dev/null || true
echo "demo: done; video $OUT/eval.mp4, flight log $OUT/flight, summaries $OUT/eval.json and the"
echo "demo: JSON line above (also in $OUT/deploy.log)"
