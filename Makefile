# Two commands on a fresh machine: `make demo` and `make test`. Each sets up .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
STAMP := $(VENV)/.installed
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl

.PHONY: demo test lint test-compat test-warp bench bench-quick clean venv

venv: $(STAMP)

# torch first (the CPU build pip finds locally), then everything else under the constraints
# file so no later requirement can swap torch for a CUDA wheel.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "torch==2.13.0"
	$(PIP) install --quiet -c constraints.txt -e ".[all]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lerobot-gym demo --output_dir=outputs/demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy lerobot_gym

# Lint (ruff, format, mypy), the test suite with the package's doctests, then LeRobot interop.
test: lint
	$(BIN)/python -m pytest -q --ignore=tests/compat
	$(MAKE) test-compat

# Interoperability with LeRobot's own reader and writer, in its own virtual environment.
test-compat: $(STAMP)
	$(MAKE) -f tests/compat/Makefile.inc compat

# MuJoCo Warp (the `warp` extra, not in `[all]`: ~400 MB installed, and ~30 s of CPU to compile
# its kernels on an empty cache): its tests on Warp's CPU device, which `make test` skips.
test-warp: $(STAMP)
	$(PIP) install --quiet -c constraints.txt -e ".[warp]"
	$(BIN)/python -m pytest -q tests/sim/test_warp_physics.py

bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

bench-quick: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b --quick || exit 1; done

# gym-aloha's own venv for the twin-fidelity tests and benchmarks/aloha_vs_gym_aloha.py.
include benchmarks/Makefile.inc

clean:
	rm -rf $(VENV) outputs build *.egg-info
