"""Every recipe under recipes/ parses through the train CLI into TTRLConfig: no unknown field, no
deprecated one (transformers and TRL announce removals with FutureWarning / DeprecationWarning)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from ttrl_trl.data import DEFAULT_SYSTEM_PROMPT
from ttrl_trl.train import UsageError, parse_args
from ttrl_trl.training.config import TTRLConfig

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted((REPO / "recipes").rglob("*.yaml"))
# GPU recipes parsed on a CPU: no bf16, no vLLM (the fields stay checked, only their values change).
CPU_OVERRIDE = ["--use_cpu", "true", "--bf16", "false", "--use_vllm", "false"]
WATCHED = ("transformers", "trl", "ttrl_trl", "accelerate", "peft")


def parse_recipe(path: Path, *extra: str):
    """Parse like `python -m ttrl_trl.train --config <path>`; return the arguments and the deprecation
    warnings that the stack's own modules raised while building them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        args = parse_args(["--config", str(path), *CPU_OVERRIDE, *extra])
    deprecations = [
        f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})"
        for w in caught
        if issubclass(w.category, FutureWarning | DeprecationWarning)
        and any(f"/{name}/" in w.filename.replace("\\", "/") for name in WATCHED)
    ]
    return args, deprecations


def test_the_paper_table_has_a_recipe_per_model_and_benchmark():
    for model in ("Qwen2.5-Math-1.5B", "Qwen2.5-Math-7B", "Qwen2.5-7B", "Llama-3.1-8B-Instruct"):
        for bench in ("aime24", "amc", "math500"):
            assert (REPO / "recipes" / model / "ttrl" / f"{bench}.yaml").is_file(), (model, bench)


def test_qwen3_base_recipes_cover_the_four_benchmarks_and_are_parsed():
    for model in ("Qwen3-4B-Base", "Qwen3-8B-Base"):
        for bench in ("aime24", "aime25", "amc", "math500"):
            path = REPO / "recipes" / model / "ttrl" / f"{bench}.yaml"
            assert path in RECIPES, (model, bench)  # so the parametrised check below runs on it


@pytest.mark.parametrize("recipe", RECIPES, ids=[str(p.relative_to(REPO / "recipes")) for p in RECIPES])
def test_recipe_parses_without_unknown_or_deprecated_fields(recipe):
    (script_args, training_args, model_args), deprecations = parse_recipe(recipe)
    assert deprecations == [], f"{recipe.name} uses deprecated settings:\n" + "\n".join(deprecations)
    assert isinstance(training_args, TTRLConfig) and model_args.model_name_or_path
    assert training_args.n_votes_per_prompt % training_args.num_generations == 0
    text = recipe.read_text()
    if "tiny" not in recipe.parts:
        # The paper's settings, wherever the recipe sets them (a 1-GPU LoRA recipe has its own layout).
        assert training_args.learning_rate in (5e-7, 1e-5) and training_args.temperature == 1.0
        assert training_args.warmup_steps == 0.03 and training_args.activation_checkpointing is True
        assert "Assumes" in text  # which GPUs and which accelerate config
        # The paper's evaluation during training: avg@16 at temperature 0.6, top-p 0.95, >= 3072 tokens.
        assert training_args.benchmark_eval_steps in (16, 160) and training_args.benchmark_eval_num_samples == 16
        assert (training_args.benchmark_eval_temperature, training_args.benchmark_eval_top_p) == (0.6, 0.95)
        assert training_args.benchmark_eval_max_new_tokens == 3072
    if "Instruct" in str(recipe) or "Qwen2.5-7B" in str(recipe):
        assert script_args.system_prompt == DEFAULT_SYSTEM_PROMPT and "Prompt [ours]" in text
    if "Qwen3" in str(recipe):  # the prompt EVOL-RL sends Qwen3 base models, said where it comes from
        assert script_args.system_prompt == DEFAULT_SYSTEM_PROMPT and "Prompt (EVOL-RL's" in text
        assert script_args.dataset == recipe.stem and "# Assumes [ours]: 8 x 80 GB" in text


def test_the_check_catches_unknown_and_deprecated_fields(tmp_path):
    tiny = (REPO / "recipes" / "tiny" / "ttrl" / "aime24.yaml").read_text()
    old = tmp_path / "old.yaml"
    old.write_text(tiny.replace("activation_checkpointing: false", "gradient_checkpointing: false"))
    _, deprecations = parse_recipe(old)
    assert any("gradient_checkpointing" in d for d in deprecations)
    typo = tmp_path / "typo.yaml"
    typo.write_text(tiny + "warmup_ratio: 0.03\n")
    with pytest.raises(UsageError, match="warmup_ratio"):
        parse_recipe(typo)


def test_the_best_checkpoint_switch_the_recipes_describe_parses():
    recipe = REPO / "recipes" / "Qwen2.5-Math-1.5B" / "ttrl" / "aime24.yaml"
    best = ["--save_strategy", "best", "--metric_for_best_model", "benchmark/pass@1", "--load_best_model_at_end", "true"]
    (_, training_args, _), deprecations = parse_recipe(recipe, *best)
    assert deprecations == [] and training_args.greater_is_better is True
    assert training_args.metric_for_best_model == "benchmark/pass@1"


@pytest.mark.parametrize("recipe", RECIPES, ids=[str(p.relative_to(REPO / "recipes")) for p in RECIPES])
def test_recipe_sets_trls_off_policy_corrections_and_its_trm_switch_parses(recipe):
    """Each recipe says what TRL's own corrections do next to TRM, and turning TRM on as the comment suggests
    (with vLLM, as on the GPUs the recipe assumes) passes the config checks."""
    text = recipe.read_text()
    assert "\nvllm_importance_sampling_correction: " in text and "\noff_policy_mask_threshold: " in text
    use_vllm = "true" if "\nuse_vllm: true" in text else "false"
    trm = ["--trm_delta_max", "2.0", "--trm_delta_avg", "0.02", "--use_vllm", use_vllm]
    (_, training_args, _), _ = parse_recipe(recipe, *trm)
    assert training_args.trm_enabled and training_args.off_policy_mask_threshold is None
    assert training_args.use_vllm is (use_vllm == "true")
