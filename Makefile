# Two entry points: `make demo` and `make test`. Both bootstrap .venv with uv from nothing but python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_ROWS ?= 100000
# The CPU build of torch, from the folder pip is configured to look in (never the CUDA build).
TORCH ?= torch==2.13.0+cpu
FIND_LINKS ?= $(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null)
UV_INSTALL = $(BIN)/uv pip install -q --python $(BIN)/python $(if $(FIND_LINKS),--find-links $(FIND_LINKS))

.PHONY: demo test lint validate bench bench-retrieval bench-observer bench-load bench-scale bench-nlq bench-encoders bench-sql-formats clean

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv

$(STAMP): pyproject.toml | $(BIN)/uv
	$(UV_INSTALL) '$(TORCH)'
	$(UV_INSTALL) -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Other engines, in a virtualenv of their own (tests/core/lake/test_open_engines.py): they read the lake's
# Iceberg tables through the catalog with none of this project's code. DuckDB's iceberg extension wheels
# exist for duckdb 1.5.5 only.
ENGINES := $(VENV)/engines
ENGINES_STAMP := $(ENGINES)/.installed
$(ENGINES_STAMP): Makefile | $(BIN)/uv
	$(BIN)/uv venv -q --allow-existing --python $(BIN)/python $(ENGINES)
	$(BIN)/uv pip install -q --python $(ENGINES)/bin/python 'duckdb==1.5.5' 'duckdb-extensions==1.5.5' \
		'duckdb-extension-iceberg==1.5.5' 'duckdb-extension-avro==1.5.5' 'pyiceberg[sql-sqlite,pyarrow]>=0.12,<0.13' \
		'ray[data]>=2.50,<3'
	touch $(ENGINES_STAMP)

demo: $(STAMP)
	$(BIN)/lakehouse demo --rows $(DEMO_ROWS)

lint: $(STAMP)
	$(BIN)/ruff check lakehouse_assets api tests bench
	$(BIN)/ruff format --check lakehouse_assets api tests bench

validate: $(STAMP)
	home=$$(mktemp -d) && cp dagster.yaml $$home/ && DAGSTER_HOME=$$home $(BIN)/dagster definitions validate -w workspace.yaml; rc=$$?; rm -rf $$home; exit $$rc

test: lint validate $(ENGINES_STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench.ingest_sql

# Against a running stack (make demo): LOAD_SECONDS and LOAD_CONCURRENCY tune it.
LOAD_SECONDS ?= 60
LOAD_CONCURRENCY ?= 8
bench-load: $(STAMP)
	$(BIN)/python -m bench.load --seconds $(LOAD_SECONDS) --concurrency $(LOAD_CONCURRENCY)

bench-observer: $(STAMP)
	$(BIN)/python -m bench.observer_overhead --requests 6000

# Embedding 100,000 workers on 2 CPU cores takes about 40 minutes; ROWS=20000 for a quicker look.
ROWS ?= 100000
bench-retrieval: $(STAMP)
	$(BIN)/python -m bench.retrieval --rows $(ROWS)

# The whole pipeline at SCALE_ROWS workers, each stage against its raw baseline; report in bench/results/.
# 100,000 takes about 15 minutes here; 500,000 (the long run) about an hour.
SCALE_ROWS ?= 100000
bench-scale: $(STAMP)
	$(BIN)/lakehouse bench scale --rows $(SCALE_ROWS)

# Plain-words queries: precision@10 per family, dense vs keyword vs hybrid, at 10,000 and 100,000 workers.
bench-nlq: $(STAMP)
	$(BIN)/python -m bench.nlq --rows 10000 --rows 100000

# The embedder's tiers (torch fp32, ONNX int8, model2vec static): docs/s and labeled precision side by side.
bench-encoders: $(STAMP)
	$(BIN)/python -m bench.encoders

# A 1,000,000-row /v1/sql result as JSON, Arrow IPC, CSV and NDJSON (rows/s each; Arrow >= 10x JSON).
bench-sql-formats: $(STAMP)
	$(BIN)/python -m bench.sql_formats --rows 1000000

clean:
	rm -rf $(VENV) .lakehouse .dagster_home
