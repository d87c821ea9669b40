# Two entry points a fresh machine needs: `make demo` and `make test`. Both create .venv if missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOROVOD_WHEELS ?= $(or $(TURBOYOLO_WHEELS),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/turboyolo/wheels)

.PHONY: demo test test-fast bench setup clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test,export,prune,tensorboard,tune]"
	@# optional Horovod: installed only from a wheel scripts/install_horovod.sh built on this machine
	if ls $(HOROVOD_WHEELS)/horovod-*.whl >/dev/null 2>&1; then \
		$(PY) -m pip install -q --find-links $(HOROVOD_WHEELS) --only-binary horovod horovod || true; fi
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(PY) scripts/demo.py

test: $(STAMP)
	$(PY) -m pytest -q tests

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" tests

clean:
	rm -rf $(VENV) runs .pytest_cache
