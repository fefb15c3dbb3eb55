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

.PHONY: run test test-fast lint bench venv dev-venv checkpoints int8-checks screenshots clean vendor-ort vendor-axe \
	vendor-brotli

run: $(RUN_STAMP)
	$(PY) -m streamlit run app.py --server.port $(PORT)

# Two workers (pytest-xdist), each taking a whole test file at a time: a module's server and trained models are made
# once. Not --dist loadgroup: under pytest 9.2 its groups are silently ignored (pytest-dev/pytest-xdist#1386), and
# every file was split over both workers. A plain `pytest` runs the same tests one after another.
XDIST := -n 2 --dist loadfile

test: $(DEV_STAMP)
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

# The suite without the real MNIST, Chromium, Ray, the benchmarks and the tests marked slow (those over about 0.4 s
# here: AppTests that train, the CLI's trainings, clocks): about two thirds of the tests. The data set is pointed
# nowhere, so a test that needs it and is not marked real_data fails here. One process: two workers each import
# torch, Streamlit and the rest, which costs more than sharing the tests saves (26 s against 21 s here).
test-fast: $(DEV_STAMP)
	MNIST_DATA_DIR=/nonexistent-mnist $(PY) -m pytest -m "not real_data and not browser and not ray and not bench and not slow" $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(PY) -m ruff check .

# The speed claims: the library (training, time to accuracy, latency), then the app in Chromium.
bench: $(DEV_STAMP)
	$(PY) -m mnist_core bench
	$(PY) -m tools.bench_app
	$(PY) -m tools.bench_join

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
# Then store the default robustness sweep beside each model's seed 0 (the Robustness page reads it), and its int8 check.
checkpoints: $(RUN_STAMP)
	@start=$$(date +%s); \
	MNIST_MODELS= $(PY) -m mnist_core train --model all --recipe best --seeds 1 --out checkpoints --name '{model}' --overwrite && \
	for model in $$(MNIST_MODELS= $(PY) -c 'from mnist_core.models import default_model_keys; print(*default_model_keys())'); do \
	  MNIST_MODELS= $(PY) -m mnist_core train --model $$model --recipe best --seeds 1,2,3,4 --out checkpoints \
	    --name '{model}-seed{seed}' --overwrite || exit 1; \
	done && \
	MNIST_MODELS= $(PY) -m mnist_core robustness --runs checkpoints --models all --save && \
	$(MAKE) --no-print-directory int8-checks && \
	echo "make checkpoints: $$(( $$(date +%s) - start )) s"

# Check int8 weights against PyTorch on the 10,000 test images for each model's shipped checkpoint and store the
# result beside it (checkpoints/<model>/int8_check.json, for those weights): /join then serves int8 at once instead
# of checking on its first request (10-30 s). About a minute; needs MNIST.
int8-checks: $(RUN_STAMP)
	@out=$$(mktemp -d) && MNIST_MODELS= $(PY) -m mnist_core export --runs checkpoints --models all --onnx $$out \
	  --int8 --check --save; status=$$?; rm -rf $$out; exit $$status

# Retake the screenshots of the README and docs/ (needs Chromium and the data set).
screenshots: $(DEV_STAMP)
	$(PY) -m tools.take_screenshots

clean:
	rm -rf $(VENV) .pytest_cache

# ONNX Runtime Web for the /join page, vendored (a classroom may have no internet): the npm package's
# WebAssembly build, copied into join/static/vendor/onnxruntime-web/ (see its README.md), each file's brotli
# (quality 11, about 90 s for the WebAssembly) written beside it as <file>.br for browsers that accept br.
ORT_VERSION ?= 1.31.1
ORT_FILES := ort.wasm.min.mjs ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm
vendor-ort: $(RUN_STAMP)
	@work=$$(mktemp -d) && cd $$work && npm pack --silent onnxruntime-web@$(ORT_VERSION) >/dev/null && \
	tar xzf onnxruntime-web-$(ORT_VERSION).tgz && \
	cp $(addprefix package/dist/,$(ORT_FILES)) $(CURDIR)/join/static/vendor/onnxruntime-web/ && rm -rf $$work && \
	cd $(CURDIR) && $(PY) -m join.compression $(addprefix join/static/vendor/onnxruntime-web/,$(ORT_FILES)) && \
	echo "onnxruntime-web $(ORT_VERSION) copied and compressed; update join/static/vendor/onnxruntime-web/README.md"

# Google's brotli decoder in JavaScript for /join over plain http:// (browsers take brotli only from HTTPS or
# localhost; the page decodes the WebAssembly's .br itself): js/decode.min.js and LICENSE of google/brotli at a tag,
# copied into join/static/vendor/brotli/ (see its README.md).
BROTLI_VERSION ?= v1.2.0
BROTLI_RAW := https://raw.githubusercontent.com/google/brotli/$(BROTLI_VERSION)
vendor-brotli:
	@curl -fsSL -o $(CURDIR)/join/static/vendor/brotli/decode.min.js $(BROTLI_RAW)/js/decode.min.js && \
	curl -fsSL -o $(CURDIR)/join/static/vendor/brotli/LICENSE $(BROTLI_RAW)/LICENSE && \
	sha256sum $(CURDIR)/join/static/vendor/brotli/decode.min.js && \
	echo "brotli decoder $(BROTLI_VERSION) copied; update join/static/vendor/brotli/README.md"

# axe-core for the browser tests' accessibility checks (tests/test_browser_a11y.py), vendored so that they need no
# network: the npm package's axe.min.js and its licences, copied into tests/support/vendor/axe-core/ (see its README.md).
AXE_VERSION ?= 4.14.1
vendor-axe:
	@work=$$(mktemp -d) && cd $$work && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null && \
	tar xzf axe-core-$(AXE_VERSION).tgz && \
	cp package/axe.min.js package/LICENSE package/LICENSE-3RD-PARTY.txt $(CURDIR)/tests/support/vendor/axe-core/ && \
	rm -rf $$work && sha256sum $(CURDIR)/tests/support/vendor/axe-core/axe.min.js && \
	echo "axe-core $(AXE_VERSION) copied; update tests/support/vendor/axe-core/README.md"
