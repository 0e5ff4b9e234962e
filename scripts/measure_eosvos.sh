#!/usr/bin/env bash
# e-OSVOS (issue 14) on the dev set, side by side with the other methods, one run after
# another with one thread: docs/RESULTS.md "e-OSVOS (issue 14)". Usage:
#   scripts/measure_eosvos.sh [DAVIS_ROOT] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
DAVIS="${1:-../shared/data/davis2016-dev}"
OUT="${2:-out/results_eosvos}"
mkdir -p "$OUT"
export OMP_NUM_THREADS=1 PYTHONPATH="$PWD"
VOS=(.venv/bin/python -m vos_ros)
BOX=(--init box --set box_init.method=prompt_encoder)
run() {  # name, then eval arguments
  local name="$1"; shift
  "${VOS[@]}" eval "$DAVIS" --set threads=1 "$@" --json "$OUT/$name.json" > "$OUT/$name.log" 2>&1
  echo "$name $(tail -1 "$OUT/$name.log")"
}
# meta-learned (shipped): T = 10 and 50, with and without OnA; box init at the default T
for t in 10 50; do
  run "eosvos_T${t}_ona_mask" --method eosvos --set eosvos.iterations=$t
  run "eosvos_T${t}_noona_mask" --method eosvos --set eosvos.iterations=$t --set eosvos.online_adaptation=false
done
for t in 10 50; do
  run "eosvos_T${t}_ona_box" --method eosvos --set eosvos.iterations=$t "${BOX[@]}"
done
# the plain baseline (default initialisation, one rate): the same head and schedule
run "plain_T10_ona_mask" --method eosvos --set eosvos.weights=none --set eosvos.iterations=10
run "plain_T10_noona_mask" --method eosvos --set eosvos.weights=none --set eosvos.iterations=10 \
  --set eosvos.online_adaptation=false
run "plain_T50_ona_mask" --method eosvos --set eosvos.weights=none --set eosvos.iterations=50
for method in frtm visual_words matching; do
  run "${method}_mask" --method $method
done
# first-frame fine-tuning time per object (480x854), and the per-frame cost with OnA
.venv/bin/python scripts/measure_eosvos_init.py "$DAVIS" --iterations 10,50 | tee "$OUT/init_time.md"
"${VOS[@]}" bench --data "$DAVIS" --method eosvos --set threads=1 --set eosvos.iterations=10 --objects 1,3 --frames 30 --warmup 5 \
  --json "$OUT/bench_eosvos.json" | tee "$OUT/bench_eosvos.log"
"${VOS[@]}" bench --data "$DAVIS" --method eosvos --set threads=1 --set eosvos.online_adaptation=false \
  --objects 1,3 --frames 30 --warmup 5 --json "$OUT/bench_eosvos_noona.json" | tee "$OUT/bench_eosvos_noona.log"
