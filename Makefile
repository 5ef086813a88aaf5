# Two commands do all set-up on a fresh machine:  `make demo`  and  `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SHARED ?= ../shared
LFW := $(SHARED)/datasets/lfw
DEMO_DIR := demo-run

.PHONY: demo test lint bench eval calibrate system-deps clean

# dlib is compiled against OpenBLAS (6x faster embedding than the BLAS-less wheel, see
# docs/benchmarks.md); the build needs cmake and libopenblas-dev. pip caches the built wheel.
system-deps:
	@bash scripts/system-deps.sh

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel

$(VENV)/.installed: pyproject.toml | $(BIN)/python system-deps
	$(BIN)/pip install --quiet -e '.[dev,demo]'
	@touch $@

demo: $(VENV)/.installed
	rm -rf $(DEMO_DIR)
	$(BIN)/python -m facesift.demo $(DEMO_DIR)/photos
	$(BIN)/facesift --help >/dev/null
	FACESIFT_DATA_DIR=$(DEMO_DIR)/data $(BIN)/facesift init
	FACESIFT_DATA_DIR=$(DEMO_DIR)/data $(BIN)/facesift source add demo --basis consent \
	    --jurisdiction GB --retention-days 30 \
	    --description "Public-domain photos shipped in scikit-image and matplotlib"
	FACESIFT_DATA_DIR=$(DEMO_DIR)/data $(BIN)/facesift ingest $(DEMO_DIR)/photos/gallery --source demo
	FACESIFT_DATA_DIR=$(DEMO_DIR)/data $(BIN)/facesift search $(DEMO_DIR)/photos/probe-collins.jpg
	FACESIFT_DATA_DIR=$(DEMO_DIR)/data $(BIN)/facesift verify \
	    $(DEMO_DIR)/photos/probe-collins.jpg $(DEMO_DIR)/photos/gallery/hopper-original.jpg
	FACESIFT_DATA_DIR=$(DEMO_DIR)/data $(BIN)/facesift stats

test: $(VENV)/.installed
	FACESIFT_SHARED=$(SHARED) $(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# Accuracy figures for README and docs/accuracy.md (about 15 minutes on 2 cores, cached after).
eval: $(VENV)/.installed
	$(BIN)/facesift eval lfw --root $(LFW) --pairs $(LFW)/pairs.txt
	$(BIN)/facesift eval identify --root $(LFW)

calibrate: $(VENV)/.installed
	$(BIN)/facesift eval calibrate --root $(LFW) \
	    --out src/facesift/search/calibration/dlib-resnet_v1_128_euclidean.json

bench: $(VENV)/.installed
	$(BIN)/pip install --quiet --no-deps 'face-recognition==1.3.0'
	$(BIN)/python bench/ingest_throughput.py --lfw $(LFW)
	$(BIN)/python bench/search_latency.py --lfw $(LFW)

clean:
	rm -rf $(DEMO_DIR) facesift-data .pytest_cache
