#!/usr/bin/env bash
# Create or reuse the project venv (.venv), install the pinned dependencies, patch the ROS
# wheels' CMake exports, and build+install our msg/srv into the venv prefix.
# Idempotent: a second run only checks stamps and returns quickly.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"
cd "$ROOT"

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating venv $VENV"
  "$PY" -m venv "$VENV"
fi

REQ_HASH="$(cat requirements.txt setup.py | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$VENV/.req-stamp" 2>/dev/null)" != "$REQ_HASH" ]; then
  echo "[setup] installing pinned dependencies (first run takes a few minutes)"
  # torch first and alone, so nothing resolves a newer CUDA build of it
  "$VENV/bin/pip" install -q --disable-pip-version-check "torch==2.13.0" 2>&1 | grep -v "is ignored" || true
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.txt 2>&1 | grep -v "is ignored" || true
  # The ROS wheels' CMake exports carry the wheel builder's paths: point them at this venv.
  PYINC="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
  NPINC="$("$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')"
  { grep -rlE "/opt/python/cp311-cp311" "$VENV/share" --include="*.cmake" 2>/dev/null || true; } | while read -r f; do
    sed -i -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$NPINC#g" \
           -e "s#/opt/python/cp311-cp311/include/python3.11#$PYINC#g" "$f"
  done || true  # nothing left to patch (a re-run after setup.py changed) is fine
  echo "$REQ_HASH" > "$VENV/.req-stamp"
fi

# Our pure-Python package (engine, tools, node) as an editable install (a .pth path entry,
# so edits are live) with the `vos-ros` console script. Done before the interface build:
# pip would otherwise uninstall the files colcon registered under the same name.
PIP_HASH="$(cat setup.py | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$VENV/.pip-stamp" 2>/dev/null)" != "$PIP_HASH" ]; then
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation \
      --config-settings editable_mode=compat -e . 2>&1 | grep -v "is ignored" || true
  rm -rf "$ROOT"/*.egg-info
  echo "$PIP_HASH" > "$VENV/.pip-stamp"
  rm -f "$VENV/.iface-stamp"
fi

# Build the interfaces (msg/srv) with rosidl and install them into the venv prefix.
IFACE_HASH="$(cat CMakeLists.txt package.xml vos_ros/__init__.py msg/*.msg srv/*.srv | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$VENV/.iface-stamp" 2>/dev/null)" != "$IFACE_HASH" ]; then
  echo "[setup] building vos_ros interfaces (colcon + rosidl)"
  export PATH="$VENV/bin:$PATH" CMAKE_PREFIX_PATH="$VENV" AMENT_PREFIX_PATH="$VENV"
  rm -rf "$ROOT/build/vos_ros"; mkdir -p "$ROOT/build"
  (cd "$ROOT" && "$VENV/bin/colcon" --log-base "$ROOT/build/log" build \
      --base-paths "$ROOT" --build-base "$ROOT/build" --install-base "$VENV" --merge-install \
      --packages-select vos_ros \
      --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF -DVOS_ROS_INSTALL_PYTHON_SOURCES=OFF \
      > "$ROOT/build/colcon.log" 2>&1) || { tail -50 "$ROOT/build/colcon.log"; exit 1; }
  echo "$IFACE_HASH" > "$VENV/.iface-stamp"
fi
echo "[setup] ready: $VENV"
