# ttrl-trl: one place for every command a user runs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0

.PHONY: install test lint

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m pytest -q tests; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 1; fi; exit $$rc

lint: install
	$(VENV)/bin/ruff check ttrl_trl tests benchmarks

# ---- Evaluation -----------------------------------------------------------------------------
# The paper's settings (pass@1 as avg@16 at temperature 0.6, top-p 0.95, 3072 new tokens), each
# overridable on the command line:
#   make eval-aime24 MODEL=Qwen/Qwen2.5-Math-1.5B
#   make eval MODEL=outputs/ttrl-aime24 DATASET=math500 K=4 EVAL_ARGS="--max_problems 50 --pass_at 2"
#   make eval-aime24 MODEL=outputs/ttrl-aime24 OUTPUT_DIR=outputs/eval/aime24-ttrl \
#       EVAL_ARGS="--compare outputs/eval/aime24/summary.json"
MODEL ?=
DATASET ?= aime24
K ?= 16
TEMPERATURE ?= 0.6
TOP_P ?= 0.95
MAX_NEW_TOKENS ?= 3072
SEED ?= 42
BACKEND ?= auto
DATA_DIR ?= $(if $(wildcard ../shared/data),../shared/data,)
OUTPUT_DIR ?= outputs/eval/$(basename $(notdir $(DATASET)))
EVAL_ARGS ?=

.PHONY: eval eval-aime24 eval-amc eval-math500

eval: install
	@test -n "$(MODEL)" || { echo "MODEL is required: make eval MODEL=<Hub id or folder> DATASET=aime24"; exit 2; }
	$(PY) -m ttrl_trl.evaluate --model_name_or_path "$(MODEL)" --dataset "$(DATASET)" \
		$(if $(DATA_DIR),--data_dir "$(DATA_DIR)") --num_samples $(K) --temperature $(TEMPERATURE) \
		--top_p $(TOP_P) --max_new_tokens $(MAX_NEW_TOKENS) --seed $(SEED) --backend $(BACKEND) \
		--output_dir "$(OUTPUT_DIR)" $(EVAL_ARGS)

eval-aime24 eval-amc eval-math500: eval-%:
	@$(MAKE) --no-print-directory eval DATASET=$*
