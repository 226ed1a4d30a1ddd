# auditlog — developer and user entry points. Everything installs itself into .venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed

.PHONY: install demo demo-stop test unit integration lint typecheck check schema bench bench-slow fuzz es-start es-stop clean

# agent/_linescan.c, agent/_entries.c, indexer/_layout.c: the install builds the C line check (agent/linescan.py),
# the per-batch work on bulk entries (agent/digest.py, agent/idrecord.py) and the digest seal's bookkeeping
# (indexer/integrity.py) in place
$(STAMP): pyproject.toml agent/_linescan.c agent/_entries.c indexer/_layout.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

install: $(STAMP)

## make demo: local Elasticsearch + setup + agent + live demo events, then the TUI
demo: $(STAMP)
	$(BIN)/auditlog demo run

demo-stop: $(STAMP)
	$(BIN)/auditlog demo stop

## make test: lint, types, unit tests and integration tests against a real Elasticsearch 9 node
test: $(STAMP) lint typecheck
	$(PY) -m pytest -q -p no:cacheprovider

unit: $(STAMP)
	$(PY) -m pytest -q -m "not integration"

integration: $(STAMP)
	$(PY) -m pytest -q -m integration

lint: $(STAMP)
	$(BIN)/ruff check auditlog agent indexer tui tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

## make schema: regenerate docs/schema/audit-event-v1.json from the contract definition (auditlog/core/contract.py)
schema: $(STAMP)
	$(PY) -m auditlog.core.schema

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[all,dev,bench]'
	command -v rsyslogd >/dev/null || { apt-get update -qq && apt-get install -y -qq rsyslog rsyslog-elasticsearch >/dev/null; }
	# Debian's rsyslog and syslog-ng-core conflict: syslog-ng runs from its unpacked packages (bench/debian_unpack.py)
	$(PY) -m bench.debian_unpack syslog-ng
	PATH="$$PATH:/usr/local/go/bin" $(PY) -m bench.filebeat_build || echo "filebeat not built: the bench reports it as unavailable"
	$(PY) -m bench

## make fuzz: each differential fuzz target (tests/fuzz/targets.py) under atheris for FUZZ_SECONDS seconds
FUZZ_SECONDS ?= 300
fuzz: $(STAMP)
	$(PY) -m tests.fuzz passthrough -max_len=4096 -max_total_time=$(FUZZ_SECONDS)
	$(PY) -m tests.fuzz redaction -max_len=2048 -max_total_time=$(FUZZ_SECONDS)

## make bench-slow: the ingest benchmarks with every core at about half speed (a CPU-burning neighbour per core)
bench-slow: $(STAMP)
	$(PY) -m bench --only ingest --slow-cores --no-docs

es-start: $(STAMP)
	$(BIN)/auditlog es start

es-stop: $(STAMP)
	$(BIN)/auditlog es stop

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
