# fx — every target creates the virtualenv first if it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DIR := .demo-data
PROTO_SRC := ../shared/mexc/proto
PROTO_OUT := fxcli/exchange/mexc_proto
PEERS       := bench/.venv-peers
PEERS_STAMP := $(PEERS)/.installed
VBT         := bench/.venv-vbt
VBT_STAMP   := $(VBT)/.installed

.DEFAULT_GOAL := help
.PHONY: help install demo fmt lint type test golden bench soak check clean proto

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install fx with its dev tools

demo: $(STAMP)  ## import the shipped sample, show what is stored, backtest the demo strategy, search its parameters
	rm -rf $(DEMO_DIR)
	$(BIN)/fx import binance tests/fixtures/binance-spot/btcusdt_20240808_excerpt.gz --data-dir $(DEMO_DIR)
	$(BIN)/fx inspect --data-dir $(DEMO_DIR)
	$(BIN)/fx inspect coverage BTCUSDT --data-dir $(DEMO_DIR)
	$(BIN)/fx backtest momentum_scalper --symbol BTCUSDT --data-dir $(DEMO_DIR) --out $(DEMO_DIR)/results
	$(BIN)/fx optimize run momentum_scalper --symbol BTCUSDT --data-dir $(DEMO_DIR) --out $(DEMO_DIR)/results --trials 20 --seed 7

fmt: $(STAMP)  ## format and auto-fix
	$(BIN)/ruff format fxcli tests bench
	$(BIN)/ruff check --fix fxcli tests bench

lint: $(STAMP)  ## ruff
	$(BIN)/ruff check fxcli tests bench
	$(BIN)/ruff format --check fxcli tests bench

type: $(STAMP)  ## mypy --strict
	$(BIN)/mypy

test: $(STAMP)  ## the whole test suite
	$(BIN)/pytest -q

soak: $(STAMP)  ## the live fault soak, the verify, memory and bad-input sweep tests in full (the suite runs reduced ones)
	FX_SOAK=full $(BIN)/pytest -q -s -m soak tests/live/test_soak.py
	FX_CAMPAIGN_RUNS=2000 $(BIN)/pytest -q -s tests/live/test_order_campaign.py
	FX_SOAK=full $(BIN)/pytest -q tests/live/test_userstream_fake.py -k longevity
	FX_VERIFY_CASES=400 $(BIN)/pytest -q tests/unit/store/test_verify.py
	FX_MEMORY_EVENTS=1000000 $(BIN)/pytest -q tests/unit/engine/test_memory.py
	FX_SWEEP=full $(BIN)/pytest -q tests/cli/test_bad_input_sweep.py

golden: $(STAMP)  ## rewrite golden files (review the diff before committing)
	FX_UPDATE_GOLDEN=1 $(BIN)/pytest -q tests/golden

$(PEERS_STAMP): bench/requirements-peers.txt
	test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/pip install --quiet --upgrade pip
	$(PEERS)/bin/pip install --quiet -r bench/requirements-peers.txt
	touch $(PEERS_STAMP)

# vectorbt needs pandas >= 3 and nautilus_trader < 3: it gets a venv of its own.
$(VBT_STAMP): bench/requirements-vbt.txt
	test -x $(VBT)/bin/python || $(PYTHON) -m venv $(VBT)
	$(VBT)/bin/pip install --quiet --upgrade pip
	$(VBT)/bin/pip install --quiet -r bench/requirements-vbt.txt
	touch $(VBT_STAMP)

bench: $(STAMP) $(PEERS_STAMP) $(VBT_STAMP)  ## benchmarks against peers, printed as ratios (peers get their own venv)
	$(BIN)/python bench/store.py
	$(BIN)/python bench/indicators.py
	$(BIN)/python bench/backtest.py
	$(BIN)/python bench/backtest_store.py
	$(BIN)/python bench/live.py
	$(BIN)/python bench/serve.py
	$(BIN)/python bench/record.py
	$(BIN)/python bench/notify.py
	$(BIN)/python bench/orders.py
	$(BIN)/python bench/reconcile.py
	$(BIN)/python bench/import.py
	$(BIN)/python bench/optimize.py

# The .proto files have no package, so protoc writes bare "import X_pb2": sed makes them relative.
proto: $(STAMP)  ## regenerate fxcli/exchange/mexc_proto/ from ../shared/mexc/proto (pinned grpcio-tools)
	rm -f $(PROTO_OUT)/*_pb2.py $(PROTO_OUT)/*_pb2.pyi
	$(BIN)/python -m grpc_tools.protoc -I$(PROTO_SRC) --python_out=$(PROTO_OUT) --pyi_out=$(PROTO_OUT) $(PROTO_SRC)/*.proto
	sed -E -i.bak 's/^import ([A-Za-z0-9_]+_pb2) as /from . import \1 as /' $(PROTO_OUT)/*_pb2.py $(PROTO_OUT)/*_pb2.pyi
	rm -f $(PROTO_OUT)/*.bak
	cp $(PROTO_SRC)/LICENSE $(PROTO_OUT)/LICENSE

check: lint type test  ## lint + type + test

clean:  ## remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache $(DEMO_DIR) $(PEERS) $(VBT) bench/.work
