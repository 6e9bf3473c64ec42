# Two commands on a fresh machine:  `make demo`  and  `make test`  (both set everything up first).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export PYSPARK_PYTHON        := $(abspath $(PY))
export PYSPARK_DRIVER_PYTHON := $(abspath $(PY))
export SPARK_LOCAL_IP        := 127.0.0.1
export HF_HUB_OFFLINE        := 1
export TRANSFORMERS_OFFLINE  := 1
export STREAMLIT_BROWSER_GATHER_USAGE_STATS := false

.PHONY: setup demo lint test test-fast bench models clean lock

# torch is the CPU build (torch==2.13.0+cpu in the lock), which PyTorch publishes on its own index, not on
# PyPI. Where pip is not already set up to find it (this workplace's pip config has it in /opt/wheels):
#   make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
TORCH_PIP   := $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))

setup: $(STAMP)

# The venv is rebuilt when the pins or the project metadata change. requirements.lock pins every package,
# transitive ones included, with hashes (`make lock`), so the install is exactly the verified set.
$(STAMP): requirements.lock pyproject.toml
	@command -v java >/dev/null || { echo "Java 17+ is required by Spark (Debian: apt-get install openjdk-17-jre-headless)"; exit 1; }
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q pip==26.3
	$(PY) -m pip install -q --require-hashes $(TORCH_PIP) -r requirements.lock
	rm -rf curate.egg-info  # a package build's leftover here would shadow the installed entry points (curate.steps)
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m pip check
	touch $(STAMP)

demo: setup
	$(VENV)/bin/curate demo --output runs/demo

# Style (ruff, config in pyproject.toml) and the import contracts between the layers ([tool.importlinter]).
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

test: setup lint
	$(PY) -m pytest -q

# The unit tier: no JVM (CURATE_NO_JVM=1 makes a test that starts one fail, naming the `spark` marker), < 90 s.
test-fast: setup
	CURATE_NO_JVM=1 $(PY) -m pytest -q -m "not slow and not spark"

# Every bench in bench/ (per-bench timeout, failures recorded), then one summary table, printed and
# written into README.md between the bench-table markers. Partial: .venv/bin/python bench/run_all.py --only a,b
bench: setup
	$(PY) bench/run_all.py --write-readme

# Rebuild the shipped classifier models (classifiers/models) from ../shared/data; ~45 min on 2 cores,
# most of it MiniLM embedding. Only: make models ONLY=quality-reference,quality
models: setup
	$(PY) -m classifiers.build_models $(if $(ONLY),--only $(ONLY))

clean:
	rm -rf runs bench/_work .pytest_cache

# Regenerate requirements.lock from requirements.in (the direct pins) with uv, in a tool venv of its own
# (build/lock-tool; .venv is left as it is): every transitive package pinned, with the sha256 of each of its
# files. Versions already in the lock are kept unless requirements.in asks for others; to move one on:
#   make lock UPGRADE=httpx     (then `make setup`, `make test`, and commit both files)
# The CPU torch wheel is found with --find-links (TORCH_WHEELS: a folder or PyTorch's CPU page).
UV_VERSION   := 0.13.10
LOCK_TOOL    := build/lock-tool
TORCH_WHEELS ?= $(if $(TORCH_INDEX),$(TORCH_INDEX)/torch/,/opt/wheels)
lock:
	test -x $(LOCK_TOOL)/bin/uv || { python3 -m venv $(LOCK_TOOL) && $(LOCK_TOOL)/bin/pip install -q uv==$(UV_VERSION); }
	$(LOCK_TOOL)/bin/uv pip compile requirements.in -o requirements.lock --generate-hashes \
	    --python-version 3.11 --python-platform x86_64-manylinux_2_28 --find-links $(TORCH_WHEELS) \
	    --custom-compile-command "make lock" --annotation-style line --quiet $(if $(UPGRADE),--upgrade-package $(UPGRADE))
