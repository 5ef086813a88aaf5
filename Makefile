# Two commands do all set-up on a fresh machine:  `make demo`  and  `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SHARED ?= ../shared
LFW := $(SHARED)/datasets/lfw
DEMO_DIR := demo-run

.PHONY: demo test test-fast lint types layers docs client-generator bench eval eval-dlib calibrate accuracy-plots demographics system-deps browser-deps clean

# Only for the dlib extra compiled from source (make bench, for the face_recognition peer on the
# same dlib build): cmake and libopenblas-dev. The default pipeline needs no system packages.
system-deps:
	@bash scripts/system-deps.sh

# Headless Chromium (Debian's package) for the web UI's browser tests; they skip without it.
browser-deps:
	@bash scripts/browser-deps.sh

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,demo,postgres,milvus,milvus-server-test,pgvector-test,onnx,serve,browser]'
	@touch $@

# The dlib backends for their tests (and dlib galleries' re-embedding): the prebuilt dlib-bin
# wheel, so no machine compiles dlib just to run the tests (~15 minutes saved on a new one).
# Any dlib that imports will do: `make bench` puts the source build in its place.
$(VENV)/.dlib-installed: pyproject.toml | $(VENV)/.installed
	$(BIN)/python -c 'import dlib' 2>/dev/null || $(BIN)/pip install --quiet -e '.[dlib-prebuilt]'
	@touch $@

DLIB_MODELS := FACESIFT_DETECTOR=dlib-hog FACESIFT_EMBEDDER=dlib-resnet
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
	$(AS_INVESTIGATOR) $(FS) case export DEMO-1 --out $(DEMO_DIR)/evidence-DEMO-1
	$(PYTHON) -I -S $(DEMO_DIR)/evidence-DEMO-1/verify_pack.py $(DEMO_DIR)/evidence-DEMO-1
	$(AS_ADMIN) $(FS) subject access $(DEMO_DIR)/photos/probe-collins.jpg \
	    --html $(DEMO_DIR)/subject-access.html
	$(AS_ADMIN) $(FS) report dpia --html $(DEMO_DIR)/dpia.html
	$(AS_ADMIN) $(FS) audit verify
	$(AS_ADMIN) $(FS) stats

# openapi-python-client for tests/unit/serve/test_generated_client.py (a client generated from
# /openapi.json runs the whole API flow), in an environment of its own: it pins typer<0.28, and
# the CLI's help, and so docs/cli.md, is written by a newer Typer.
CLIENTGEN := $(VENV)/clientgen

$(CLIENTGEN)/bin/openapi-python-client: | $(BIN)/python
	$(PYTHON) -m venv $(CLIENTGEN)
	$(CLIENTGEN)/bin/pip install --quiet 'openapi-python-client>=0.29,<0.30'

client-generator: $(CLIENTGEN)/bin/openapi-python-client

# The Ray extra (distributed ingest) only for the tests: ~40 s to install, ~250 MB.
$(VENV)/.ray-installed: pyproject.toml | $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[ray]'
	@touch $@

test: $(VENV)/.installed $(VENV)/.dlib-installed $(VENV)/.ray-installed browser-deps client-generator
	FACESIFT_SHARED=$(abspath $(SHARED)) $(BIN)/python -m pytest --basetemp=.pytest-tmp

# The multi-host tests alone (network-namespace hosts, as root; in `make test` too).
test-multihost: $(VENV)/.installed $(VENV)/.ray-installed
	FACESIFT_SHARED=$(abspath $(SHARED)) $(BIN)/python -m pytest --basetemp=.pytest-tmp-multihost -m multihost tests/multihost

# The inner loop: unit and contract tests without LFW, browsers or the slow ones (~2 minutes).
test-fast: $(VENV)/.installed
	$(BIN)/python -m pytest -q -x -m "not slow and not lfw and not browser" --basetemp=.pytest-tmp-fast \
	    tests/unit tests/contract

# Style, types (mypy: strict on the core packages, [tool.mypy]) and the one-way layers contract
# (import-linter, [tool.importlinter]). `.ci/run` runs this as well as the tests.
lint: $(VENV)/.installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(MAKE) --no-print-directory types layers

# docs/cli.md from the commands' own --help (tests/unit/cli/test_cli_docs.py fails when stale).
docs: $(VENV)/.installed
	$(BIN)/python -m facesift.cli.docs > docs/cli.md

types: $(VENV)/.installed
	$(BIN)/mypy

layers: $(VENV)/.installed
	PYTHONPATH=src $(BIN)/lint-imports

# Accuracy figures for README and docs/accuracy.md (about 15 minutes on 2 cores, cached after).
eval: $(VENV)/.installed
	$(BIN)/facesift eval lfw --root $(LFW) --pairs $(LFW)/pairs.txt
	$(BIN)/facesift eval identify --root $(LFW)
	$(BIN)/facesift eval cluster --root $(LFW)

# The same figures for the dlib pipeline (about 15 minutes more on 2 cores; needs the dlib extra).
eval-dlib: $(VENV)/.installed $(VENV)/.dlib-installed
	$(DLIB_MODELS) $(BIN)/facesift eval lfw --root $(LFW) --pairs $(LFW)/pairs.txt
	$(DLIB_MODELS) $(BIN)/facesift eval identify --root $(LFW)
	$(DLIB_MODELS) $(BIN)/facesift eval cluster --root $(LFW)

# The shipped calibrations of both models (all LFW pairs; the dlib one needs the dlib extra).
calibrate: $(VENV)/.installed $(VENV)/.dlib-installed
	$(BIN)/facesift eval calibrate --root $(LFW) --out src/facesift/search/calibration/$$( \
	    $(BIN)/python -c 'from facesift.embed.base import embedding_space_of as s; \
	    from facesift.search.calibration import calibration_filename as f; print(f(s("reid-0095")))')
	$(DLIB_MODELS) $(BIN)/facesift eval calibrate \
	    --root $(LFW) --out src/facesift/search/calibration/dlib-resnet_v1_128_euclidean.json

# DET curves of the shipped calibrations, the picture in docs/accuracy.md.
accuracy-plots: $(VENV)/.installed
	$(BIN)/python scripts/plot_det.py --out docs/img/det-lfw.png

# Demographic differentials of both models on LFW with ../shared's attribute labels (evaluation
# only, never shipped): the measured-figures files `report dpia` quotes, and the DET curves per
# group in docs/accuracy.md. Uses the eval embedding cache (`make eval`, `make eval-dlib`).
LFW_LABELS := --labels $(LFW)/demographics/lfw_demographics_by_image.tsv \
    --race-column race_by_sign --gender-column afifi_gender --unlabelled both
MEASURED := src/facesift/search/calibration
demographics: $(VENV)/.installed $(VENV)/.dlib-installed
	mkdir -p build
	$(BIN)/facesift eval measured --root $(LFW) --pairs $(LFW)/pairs.txt $(LFW_LABELS) \
	    --out $(MEASURED)/reid-0095_int8-b422592479d8_256_euclidean.measured.json
	$(DLIB_MODELS) $(BIN)/facesift eval measured --root $(LFW) --pairs $(LFW)/pairs.txt \
	    $(LFW_LABELS) --out $(MEASURED)/dlib-resnet_v1_128_euclidean.measured.json
	$(BIN)/facesift eval demographics --root $(LFW) $(LFW_LABELS) --out build/demographics-default.json
	$(DLIB_MODELS) $(BIN)/facesift eval demographics --root $(LFW) $(LFW_LABELS) \
	    --out build/demographics-dlib.json
	$(BIN)/python scripts/plot_demographics.py build/demographics-dlib.json \
	    build/demographics-default.json --out docs/img

bench: $(VENV)/.installed system-deps
	# dlib compiled against OpenBLAS, the build facesift's dlib figures and the peer use.
	$(BIN)/pip uninstall --quiet --yes dlib-bin 2>/dev/null || true
	$(BIN)/pip install --quiet -e '.[dlib]'
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
	# cv2.FaceDetectorYN runs YuNet for the embedder-runtime comparison (the benchmark only).
	$(BIN)/pip install --quiet 'opencv-python-headless==5.0.0.93'
	nice $(BIN)/python bench/embedder_runtimes.py --lfw $(LFW) --models $(SHARED)/models
	$(BIN)/pip install --quiet 'locust==2.47.0'  # load generator for the API benchmark only
	$(BIN)/python bench/serve_load.py --lfw $(LFW)
	# 1M and 10M faces: ~11 GB of scratch disk, <12 GB of memory, about an hour on 2 cores.
	nice $(BIN)/python bench/large_gallery.py --lfw $(LFW)

clean:
	rm -rf $(DEMO_DIR) facesift-data .pytest_cache
