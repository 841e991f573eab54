# ttrl-trl: one place for every command a user runs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0

.PHONY: install test lint train tiny-model push bandit benchmarks plot

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

# ---- Training ---------------------------------------------------------------------------------
#   make train                                   # the tiny offline recipe on the CPU (about a minute)
#   make train RECIPE=recipes/Qwen2.5-Math-1.5B/ttrl/aime24.yaml ACCELERATE_CONFIG=accelerate_configs/zero2.yaml
#   make train RECIPE=... TRAIN_ARGS="--learning_rate 1e-6 --push_to_hub --hub_model_id me/my-ttrl-model"
RECIPE ?= recipes/tiny/ttrl/aime24.yaml
ACCELERATE_CONFIG ?=
TRAIN_ARGS ?=
TINY_MODEL ?= outputs/tiny-model

$(TINY_MODEL)/config.json: $(VENV)/.installed
	$(PY) -m ttrl_trl.tiny --output_dir $(TINY_MODEL)

tiny-model: $(TINY_MODEL)/config.json

train: install $(if $(findstring recipes/tiny/,$(RECIPE)),tiny-model)
ifeq ($(ACCELERATE_CONFIG),)
	$(PY) -m ttrl_trl.train --config $(RECIPE) $(TRAIN_ARGS)
else
	$(VENV)/bin/accelerate launch --config_file $(ACCELERATE_CONFIG) -m ttrl_trl.train --config $(RECIPE) $(TRAIN_ARGS)
endif

# Curves of a run (reward, majority ratio, accuracies, benchmark/, trm/) from its trainer_state.json:
#   make plot RUN=outputs/tiny/ttrl/aime24          # writes outputs/tiny/ttrl/aime24/curves.png
RUN ?=
plot: install
	@test -n "$(RUN)" || { echo "RUN is required: make plot RUN=<training output_dir>"; exit 2; }
	$(PY) -m ttrl_trl.plot "$(RUN)"

# Publish a trained folder with its evaluation summary in the model card:
#   make push MODEL_DIR=outputs/Qwen2.5-Math-1.5B/ttrl/aime24 HUB_MODEL_ID=me/qwen-math-1.5b-ttrl-aime24 \
#        EVAL_SUMMARY=outputs/eval/aime24-ttrl/summary.json
#   make push MODEL_DIR=... HUB_MODEL_ID=... PUSH_ARGS=--dry_run     # write the card, upload nothing
MODEL_DIR ?=
HUB_MODEL_ID ?=
EVAL_SUMMARY ?=
PUSH_ARGS ?=
push: install
	@test -n "$(MODEL_DIR)" || { echo "MODEL_DIR is required: make push MODEL_DIR=<folder written by make train> HUB_MODEL_ID=<owner/name>"; exit 2; }
	@test -n "$(HUB_MODEL_ID)" || { echo "HUB_MODEL_ID is required: make push MODEL_DIR=$(MODEL_DIR) HUB_MODEL_ID=<owner/name>"; exit 2; }
	$(PY) -m ttrl_trl.push --model_dir "$(MODEL_DIR)" --hub_model_id "$(HUB_MODEL_ID)" \
		$(if $(EVAL_SUMMARY),--eval_summary "$(EVAL_SUMMARY)") $(PUSH_ARGS)

# ---- Theory check and benchmarks ------------------------------------------------------------
bandit: install
	$(PY) -m ttrl_trl.demo.bandit

benchmarks: install
	$(PY) benchmarks/voting.py && $(PY) benchmarks/step_overhead.py && $(PY) benchmarks/trm_overhead.py

# ---- GPU check ------------------------------------------------------------------------------
# One H100 / H200, offline, no vLLM, under 8 minutes: TTRL / GRPO step-time ratios, peak memory,
# generated tokens/s and a LoRA step on a random model of Qwen2.5-Math-1.5B's shape; writes
# outputs/gpu_check/report.json. Runs on the GPU machine's own Python and CUDA torch (GPU_PYTHON), not
# .venv. What that Python lacks (trl, math-verify, datasets...) is installed from .whl/, offline:
#   make gpu-wheels GPU_PYTHON_VERSION=3.12   # where there is network; carry .whl/ to the GPU machine
#   make gpu-check                            # on the GPU machine (on a CPU: the reduced smoke shapes)
#   make gpu-check GPU_CHECK_ARGS="--max_new_tokens 256 --budget_s 300"
GPU_PYTHON ?= python3
GPU_PYTHON_VERSION ?= 3.11
GPU_CHECK_ARGS ?=
WHEEL_PIP ?= $(if $(wildcard $(PY)),$(PY),$(PYTHON)) -m pip
# The versions tested here, except pyarrow: 24.0.0 (datasets' minimum) keeps .whl/ under the 64 MiB a device
# run can carry (26.0.1 alone is 55 MB). The GPU machine's own packages are never replaced.
GPU_WHEELS := trl==1.16.0 datasets==5.2.0 math-verify==0.9.0 latex2sympy2_extended==1.11.0 \
	antlr4-python3-runtime==4.13.2 pyarrow==24.0.0 pandas==3.1.1 dill==0.4.1 multiprocess==0.70.19 \
	xxhash==4.1.0 python-dateutil==2.9.0.post0 six==1.17.0

.PHONY: gpu-wheels gpu-check

gpu-wheels:
	$(WHEEL_PIP) download --no-deps --only-binary=:all: --python-version $(GPU_PYTHON_VERSION) \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
		-d .whl $(GPU_WHEELS)

gpu-check:
	$(GPU_PYTHON) benchmarks/install_wheels.py .whl
	PYTHONPATH=$(CURDIR)$${PYTHONPATH:+:$$PYTHONPATH} $(GPU_PYTHON) benchmarks/gpu_check.py $(GPU_CHECK_ARGS)

# ---- Evaluation -----------------------------------------------------------------------------
# The paper's settings (pass@1 as avg@16 at temperature 0.6, top-p 0.95, 3072 new tokens), each
# overridable on the command line. aime24, amc and math500 read the files shipped in the package (offline);
# aime25 downloads math-ai/aime25 once (offline: DATASET=path/to/aime25.json); DATA_DIR=<folder> reads
# <folder>/<name>.json instead:
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
DATA_DIR ?=
OUTPUT_DIR ?= outputs/eval/$(basename $(notdir $(DATASET)))
EVAL_ARGS ?=

.PHONY: eval eval-aime24 eval-aime25 eval-amc eval-math500

eval: install
	@test -n "$(MODEL)" || { echo "MODEL is required: make eval MODEL=<Hub id or folder> DATASET=aime24"; exit 2; }
	$(PY) -m ttrl_trl.evaluate --model_name_or_path "$(MODEL)" --dataset "$(DATASET)" \
		$(if $(DATA_DIR),--data_dir "$(DATA_DIR)") --num_samples $(K) --temperature $(TEMPERATURE) \
		--top_p $(TOP_P) --max_new_tokens $(MAX_NEW_TOKENS) --seed $(SEED) --backend $(BACKEND) \
		--output_dir "$(OUTPUT_DIR)" $(EVAL_ARGS)

eval-aime24 eval-aime25 eval-amc eval-math500: eval-%:
	@$(MAKE) --no-print-directory eval DATASET=$*

# ---- CPU demo ---------------------------------------------------------------------------------
# Warm-up, evaluation, TTRL without labels, evaluation again; offline, on two CPU cores:
#   make demo                      # seed 0, outputs in outputs/demo
#   make demo SEED=1 OUTPUT_DIR=outputs/demo-seed1 DEMO_ARGS="--ttrl_steps 100"
# SEED and OUTPUT_DIR are shared with `eval`; the demo has its own defaults unless they are given.
DEMO_SEED = $(if $(filter command line environment,$(origin SEED)),$(SEED),0)
DEMO_OUTPUT_DIR = $(if $(filter command line environment,$(origin OUTPUT_DIR)),$(OUTPUT_DIR),outputs/demo)
DEMO_ARGS ?=

.PHONY: demo

demo: install
	$(PY) -m ttrl_trl.demo.run --seed $(DEMO_SEED) --output_dir "$(DEMO_OUTPUT_DIR)" $(DEMO_ARGS)
