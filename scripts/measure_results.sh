#!/usr/bin/env bash
# Re-measure everything docs/RESULTS.md reports (CPU: ~45 min). Usage:
#   scripts/measure_results.sh [DAVIS_ROOT] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
DAVIS="${1:-../shared/data/davis2016-dev}"
OUT="${2:-out/results}"
mkdir -p "$OUT"
VOS=".venv/bin/vos-ros"
for method in frtm visual_words matching; do
  for init in mask box; do
    "$VOS" eval "$DAVIS" --method "$method" --init "$init" --json "$OUT/eval_${method}_${init}.json" \
      | tee "$OUT/eval_${method}_${init}.log"
  done
done
# the first mask a box gives (IoU with the truth), every box estimator, and one click
for box_init in target_model clusters prompt_encoder; do
  .venv/bin/python scripts/measure_box_init.py "$DAVIS" --box-init "$box_init" | tee "$OUT/box_init_${box_init}.log"
done
.venv/bin/python scripts/measure_box_init.py "$DAVIS" --prompt click | tee "$OUT/click_init.log"
# the learned parts (docs/TRAINING.md): the decoder on mask init, the prompt encoder on box
# and click init, every method
for method in frtm visual_words matching; do
  "$VOS" eval "$DAVIS" --method "$method" --set decoder=shipped --json "$OUT/eval_${method}_decoder.json" \
    | tee "$OUT/eval_${method}_decoder.log"
  "$VOS" eval "$DAVIS" --method "$method" --init box --set box_init=prompt_encoder \
    --json "$OUT/eval_${method}_box_encoder.json" | tee "$OUT/eval_${method}_box_encoder.log"
  "$VOS" eval "$DAVIS" --method "$method" --init click --json "$OUT/eval_${method}_click.json" \
    | tee "$OUT/eval_${method}_click.log"
done
# FRTM ablations (mask init): D-only (no guided filter, no clean-up), no outlier removal,
# no score scale, every frame into the memory with no sample cap
"$VOS" eval "$DAVIS" --method frtm --set refine.guided_filter=false --set cleanup.min_component_fraction=0 \
  --set cleanup.max_hole_fraction=0 --json "$OUT/eval_frtm_donly.json" | tee "$OUT/eval_frtm_donly.log"
"$VOS" eval "$DAVIS" --method frtm --set frtm.outlier_dilation=0 --json "$OUT/eval_frtm_no_outliers.json" \
  | tee "$OUT/eval_frtm_no_outliers.log"
"$VOS" eval "$DAVIS" --method frtm --set frtm.score_scale=1.0 --json "$OUT/eval_frtm_scale1.json" \
  | tee "$OUT/eval_frtm_scale1.log"
"$VOS" eval "$DAVIS" --method frtm --set frtm.memory_interval=1 --set frtm.update_max_samples=0 \
  --json "$OUT/eval_frtm_every_frame.json" | tee "$OUT/eval_frtm_every_frame.log"
# the annotated sample ageing like the others (not pinned in the memory)
"$VOS" eval "$DAVIS" --method frtm --set frtm.annotated_min_share=0 --json "$OUT/eval_frtm_no_pin.json" \
  | tee "$OUT/eval_frtm_no_pin.log"
# each update spread over the 8 frames between updates (the previous default) instead of 4
"$VOS" eval "$DAVIS" --method frtm --set frtm.update_spread_frames=8 --json "$OUT/eval_frtm_spread8.json" \
  | tee "$OUT/eval_frtm_spread8.log"
# guided filter on whole frames instead of around each object (guided_floor 0)
"$VOS" eval "$DAVIS" --method frtm --set refine.guided_floor=0 --json "$OUT/eval_frtm_whole_frame_filter.json" \
  | tee "$OUT/eval_frtm_whole_frame_filter.log"
# the default FRTM processing at 240x427 (the speed table's second resolution)
"$VOS" eval "$DAVIS" --method frtm --resolution 240 --json "$OUT/eval_frtm_240.json" | tee "$OUT/eval_frtm_240.log"
# 60 warm-up frames: FRTM's memory reaches its steady size (update_max_samples) before timing
for method in frtm visual_words matching; do
  for res in 480 240; do
    "$VOS" bench --data "$DAVIS" --sequence blackswan --method "$method" --resolution "$res" \
      --frames 48 --warmup 60 --json "$OUT/bench_${method}_${res}.json" | tee "$OUT/bench_${method}_${res}.log"
  done
done
# FRTM again, twice, to show the run-to-run spread of this shared machine
for run in 2 3; do
  for res in 480 240; do
    "$VOS" bench --data "$DAVIS" --sequence blackswan --method frtm --resolution "$res" \
      --frames 48 --warmup 60 --json "$OUT/bench_frtm_${res}_run${run}.json" | tee "$OUT/bench_frtm_${res}_run${run}.log"
  done
done
# the same with each update spread over 8 frames (the previous default)
"$VOS" bench --data "$DAVIS" --sequence blackswan --method frtm --resolution 480 --frames 48 --warmup 60 \
  --set frtm.update_spread_frames=8 --json "$OUT/bench_frtm_480_spread8.json" | tee "$OUT/bench_frtm_480_spread8.log"
# a cheaper FRTM: the fast preset (5 CG iterations per update, 3 GN steps and 3 samples at
# init) and a grey-level guide for the guided filter; and its accuracy
"$VOS" bench --data "$DAVIS" --sequence blackswan --method frtm --resolution 480 --frames 48 --warmup 60 \
  --preset frtm_fast --set refine.guided_gray=true --json "$OUT/bench_frtm_480_fast_gray.json" \
  | tee "$OUT/bench_frtm_480_fast_gray.log"
"$VOS" eval "$DAVIS" --method frtm --preset frtm_fast --set refine.guided_gray=true \
  --json "$OUT/eval_frtm_fast_gray.json" | tee "$OUT/eval_frtm_fast_gray.log"
# the backbone as its package ships it (backbone.fuse=false: batch norms and padded input
# copies kept): what engine/backbone/inference_rewrite.py saves, and the ratios against that backbone
for res in 480 240; do
  "$VOS" bench --data "$DAVIS" --sequence blackswan --method frtm --resolution "$res" --frames 48 --warmup 60 \
    --set backbone.fuse=false --json "$OUT/bench_frtm_${res}_unfused.json" | tee "$OUT/bench_frtm_${res}_unfused.log"
done
# the same with the glibc heap retention off (engine setting retain_heap): its effect
"$VOS" bench --data "$DAVIS" --sequence blackswan --method frtm --resolution 480 --frames 48 --warmup 60 \
  --set retain_heap=false --json "$OUT/bench_frtm_480_no_retain_heap.json" | tee "$OUT/bench_frtm_480_no_retain_heap.log"
for method in frtm visual_words matching; do
  res=240; [ "$method" = frtm ] && res=480  # the default configuration; the others at 240 to save time
  "$VOS" bench --data "$DAVIS" --sequence blackswan --method "$method" --resolution "$res" --objects 3 \
    --frames 10 --warmup 2 --memory-report --loop-frames 2000 --json "$OUT/memory_${method}.json" \
    | tee "$OUT/memory_${method}.log"
done
# the node end to end (separate process, DDS on loopback): latency and throughput
for size in 640x272 640x480; do
  for objects in 1 3; do
    "$VOS" demo --out "$OUT/node_${size}_${objects}" --frames 300 --rate 30 --objects "$objects" --size "$size" \
      | tee "$OUT/node_${size}_${objects}.log"
  done
done
