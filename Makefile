# vos_ros: the two commands of the README.
#   make demo   - set up (idempotent) and run the main job: the ROS 2 node on a real clip
#   make test   - set up (idempotent) and run the whole test suite
VENV := .venv
PY := $(VENV)/bin/python
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
export PYTHONPATH := $(CURDIR)

.PHONY: setup demo demo-davis test eval bench clean

setup:
	@bash scripts/setup_venv.sh

# extra demo arguments, e.g. make demo DEMO_ARGS="--size 640x480"
DEMO_ARGS ?=
demo: setup
	@ROS_LOG_DIR=$$(mktemp -d) $(PY) -m vos_ros demo --out out/demo $(DEMO_ARGS)

# second mode of the main job: a DAVIS-layout folder with ground truth -> J&F
DAVIS ?= ../shared/data/davis2016-dev
demo-davis: setup
	@ROS_LOG_DIR=$$(mktemp -d) $(PY) -m vos_ros demo --davis $(DAVIS) --out out/demo-davis

test: setup
	@ROS_LOG_DIR=$$(mktemp -d) $(PY) -m pytest -q test

eval: setup
	@$(PY) -m vos_ros eval $(DAVIS) --json out/eval.json

bench: setup
	@$(PY) -m vos_ros bench --data $(DAVIS) --json out/bench.json

clean:
	rm -rf build install log out
