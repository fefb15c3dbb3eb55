# Two commands do all set-up:  `make run` (start the dashboard) and `make test` (run the tests).
# Both create or update the virtual environment first; it is rebuilt only when a
# requirements file changes (a stamp file named after their hash records what is installed).

PYTHON_FOR_VENV ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
REQ_HASH := $(shell cat requirements.txt | sha256sum | cut -c1-16)
DEV_HASH := $(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)
RUN_STAMP := $(VENV)/.installed-run-$(REQ_HASH)
DEV_STAMP := $(VENV)/.installed-dev-$(DEV_HASH)
PORT ?= 8501

.PHONY: run test test-fast lint bench venv dev-venv checkpoints screenshots clean vendor-ort

run: $(RUN_STAMP)
	$(PY) -m streamlit run app.py --server.port $(PORT)

# Two workers (pytest-xdist): one takes the browser tests, which mostly wait on a page, the other the rest a file
# at a time (tests/conftest.py groups them). A plain `pytest` runs the same tests one after another.
XDIST := -n 2 --dist loadgroup

test: $(DEV_STAMP)
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

# The suite without the real MNIST, Chromium, Ray, the benchmarks and the tests marked slow (74 s on 2 cores
# with other work beside it; 200 s before the markers and the two workers). The data set is pointed nowhere,
# so a test that needs it and is not marked real_data fails here.
test-fast: $(DEV_STAMP)
	MNIST_DATA_DIR=/nonexistent-mnist $(PY) -m pytest $(XDIST) -m "not real_data and not browser and not ray and not bench and not slow" $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(PY) -m ruff check .

# The speed claims: the library (training, time to accuracy, latency), then the app in Chromium.
bench: $(DEV_STAMP)
	$(PY) -m mnist_core bench
	$(PY) -m tools.bench_app

venv: $(RUN_STAMP)
dev-venv: $(DEV_STAMP)

$(RUN_STAMP): requirements.txt
	test -x $(PY) || $(PYTHON_FOR_VENV) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON_FOR_VENV) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(RUN_STAMP)

# Retrain the shipped checkpoints of the four built-in models (not $MNIST_MODELS's) with the `best`
# recipe, on Ray (`--seeds 1` is seed 0 alone): seed 0 as checkpoints/<model>/ (the run every page uses), seeds 1-4 of the three
# the product compares (the registry's models shown by default) as checkpoints/<model>-seed<N>/ (`python -m mnist_core seeds`
# compares them).
# Then store the default robustness sweep beside each model's seed 0 (the Robustness page reads it).
checkpoints: $(RUN_STAMP)
	@start=$$(date +%s); \
	MNIST_MODELS= $(PY) -m mnist_core train --model all --recipe best --seeds 1 --out checkpoints --name '{model}' --overwrite && \
	for model in $$(MNIST_MODELS= $(PY) -c 'from mnist_core.models import default_model_keys; print(*default_model_keys())'); do \
	  MNIST_MODELS= $(PY) -m mnist_core train --model $$model --recipe best --seeds 1,2,3,4 --out checkpoints \
	    --name '{model}-seed{seed}' --overwrite || exit 1; \
	done && \
	MNIST_MODELS= $(PY) -m mnist_core robustness --runs checkpoints --models all --save && \
	echo "make checkpoints: $$(( $$(date +%s) - start )) s"

# Retake the screenshots of the README and docs/ (needs Chromium and the data set).
screenshots: $(DEV_STAMP)
	$(PY) -m tools.take_screenshots

clean:
	rm -rf $(VENV) .pytest_cache

# ONNX Runtime Web for the /join page, vendored (a classroom may have no internet): the npm package's
# WebAssembly build, copied into join/static/vendor/onnxruntime-web/ (see its README.md).
ORT_VERSION ?= 1.31.1
vendor-ort:
	@work=$$(mktemp -d) && cd $$work && npm pack --silent onnxruntime-web@$(ORT_VERSION) >/dev/null && \
	tar xzf onnxruntime-web-$(ORT_VERSION).tgz && \
	cp package/dist/ort.wasm.min.mjs package/dist/ort-wasm-simd-threaded.mjs package/dist/ort-wasm-simd-threaded.wasm \
	   $(CURDIR)/join/static/vendor/onnxruntime-web/ && rm -rf $$work && \
	echo "onnxruntime-web $(ORT_VERSION) copied; update join/static/vendor/onnxruntime-web/README.md"
