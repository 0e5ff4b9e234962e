#!/usr/bin/env bash
# LWL (issue 13) side by side with the other methods, as docs/RESULTS.md reports it. Usage:
#   scripts/measure_lwl.sh [DAVIS_ROOT] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
DAVIS="${1:-../shared/data/davis2016-dev}"
OUT="${2:-out/results_lwl}"
mkdir -p "$OUT"
VOS=".venv/bin/vos-ros"
export OMP_NUM_THREADS=1
ev() {  # name, then eval options
  local name="$1"; shift
  "$VOS" eval "$DAVIS" --set threads=1 "$@" --json "$OUT/eval_${name}.json" > "$OUT/eval_${name}.log" 2>&1
}
for method in lwl frtm visual_words matching; do
  ev "${method}_mask" --method "$method"
  ev "${method}_box" --method "$method" --init box --set box_init=prompt_encoder
done
ev frtm_decoder_mask --method frtm --set decoder=shipped
ev lwl_box_no_encoder --method lwl --init box --set box_init=prompt_encoder --set lwl.box_encoder=false
for method in lwl frtm; do
  "$VOS" bench --data "$DAVIS" --sequence blackswan --method "$method" --objects 1,3,5 --frames 40 --warmup 10 \
    --set threads=1 --json "$OUT/bench_${method}.json" > "$OUT/bench_${method}.log" 2>&1
done
if [ "${MEMORY:-1}" = 1 ]; then
  "$VOS" bench --data "$DAVIS" --sequence blackswan --method lwl --resolution 240 --objects 3 --frames 10 --warmup 2 \
    --memory-report --loop-frames 2000 --set threads=1 --json "$OUT/memory_lwl.json" > "$OUT/memory_lwl.log" 2>&1
fi
