# Two commands do all set-up on a fresh machine:  `make demo`  and  `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SHARED ?= ../shared
LFW := $(SHARED)/datasets/lfw
DEMO_DIR := demo-run

.PHONY: demo test lint bench eval calibrate system-deps browser-deps clean

# dlib is compiled against OpenBLAS (6x faster embedding than the BLAS-less wheel, see
# docs/benchmarks.md); the build needs cmake and libopenblas-dev. pip caches the built wheel.
system-deps:
	@bash scripts/system-deps.sh

# Headless Chromium (Debian's package) for the web UI's browser tests; they skip without it.
browser-deps:
	@bash scripts/browser-deps.sh

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel

$(VENV)/.installed: pyproject.toml | $(BIN)/python system-deps
	$(BIN)/pip install --quiet -e '.[dev,demo,postgres,milvus,onnx,serve,browser]'
	@touch $@

FS := FACESIFT_DATA_DIR=$(DEMO_DIR)/data $(BIN)/facesift
AS_ADMIN := FACESIFT_OPERATOR=admin
AS_INVESTIGATOR := FACESIFT_OPERATOR=investigator

demo: $(VENV)/.installed
	rm -rf $(DEMO_DIR)
	$(BIN)/python -m facesift.demo $(DEMO_DIR)/photos
	$(FS) init --admin admin
	$(AS_ADMIN) $(FS) user add investigator --role investigator >/dev/null
	$(AS_ADMIN) $(FS) source add demo --basis legitimate-interest --jurisdiction GB \
	    --retention-days 30 --purpose "facesift demonstration" --controller "you@example.org" \
	    --description "Public-domain photos shipped in scikit-image and matplotlib"
	$(AS_ADMIN) $(FS) ingest $(DEMO_DIR)/photos/gallery --source demo
	$(AS_INVESTIGATOR) $(FS) search $(DEMO_DIR)/photos/probe-collins.jpg \
	    --purpose "demo: find other photos of the probe" --case DEMO-1
	$(AS_INVESTIGATOR) $(FS) verify $(DEMO_DIR)/photos/probe-collins.jpg \
	    $(DEMO_DIR)/photos/gallery/hopper-original.jpg --purpose "demo: 1:1 check" --case DEMO-1
	$(AS_INVESTIGATOR) $(FS) cluster
	$(AS_ADMIN) $(FS) subject access $(DEMO_DIR)/photos/probe-collins.jpg \
	    --html $(DEMO_DIR)/subject-access.html
	$(AS_ADMIN) $(FS) audit verify
	$(AS_ADMIN) $(FS) stats

# The Ray extra (distributed ingest) only for the tests: ~40 s to install, ~250 MB.
$(VENV)/.ray-installed: pyproject.toml | $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[ray]'
	@touch $@

test: $(VENV)/.installed $(VENV)/.ray-installed browser-deps
	FACESIFT_SHARED=$(abspath $(SHARED)) $(BIN)/python -m pytest --basetemp=.pytest-tmp

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# Accuracy figures for README and docs/accuracy.md (about 15 minutes on 2 cores, cached after).
eval: $(VENV)/.installed
	$(BIN)/facesift eval lfw --root $(LFW) --pairs $(LFW)/pairs.txt
	$(BIN)/facesift eval identify --root $(LFW)
	$(BIN)/facesift eval cluster --root $(LFW)

calibrate: $(VENV)/.installed
	$(BIN)/facesift eval calibrate --root $(LFW) \
	    --out src/facesift/search/calibration/dlib-resnet_v1_128_euclidean.json

bench: $(VENV)/.installed
	$(BIN)/pip install --quiet --no-deps 'face-recognition==1.3.0'
	$(BIN)/pip install --quiet click  # the peer's CLI needs it; --no-deps keeps our dlib
	$(BIN)/python bench/detector_runtime.py --lfw $(LFW)
	$(BIN)/python bench/detector_face_sizes.py --lfw $(LFW) | tee bench/results/detector_face_sizes.md
	nice $(BIN)/python bench/detector_threshold.py --lfw $(LFW)
	nice $(BIN)/python bench/face_size_accuracy.py --lfw $(LFW) --folds 4
	$(BIN)/python bench/ingest_throughput.py --lfw $(LFW)
	$(BIN)/python bench/search_latency.py --lfw $(LFW)
	$(BIN)/python bench/duplicates.py --lfw $(LFW)
	$(BIN)/python bench/catalog_backends.py
	$(BIN)/python bench/index_backends.py
	$(BIN)/pip install --quiet 'locust==2.47.0'  # load generator for the API benchmark only
	$(BIN)/python bench/serve_load.py --lfw $(LFW)
	# 1M and 10M faces: ~11 GB of scratch disk, <12 GB of memory, about an hour on 2 cores.
	nice $(BIN)/python bench/large_gallery.py --lfw $(LFW)

clean:
	rm -rf $(DEMO_DIR) facesift-data .pytest_cache
