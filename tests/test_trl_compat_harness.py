"""The TRL-compatibility harness's parts (the full run is a benchmark: benchmarks/trl_compat/run.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer

from ttrl_trl.tiny import CPU_TRAINING_ARGS

HARNESS = Path(__file__).resolve().parents[1] / "benchmarks" / "trl_compat"
sys.path.insert(0, str(HARNESS))

import standins  # noqa: E402
import ttrl_drop_in  # noqa: E402


def _run_module():
    spec = importlib.util.spec_from_file_location("trl_compat_run", HARNESS / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("qwen_vocab, vocab_size, eos_pad", [(False, 259, (2, 0)), (True, 151936, (151645, 151643))])
def test_standin_resolves_by_its_hub_id_offline(tmp_path, qwen_vocab, vocab_size, eos_pad):
    repo_id = "trl-internal-testing/tiny-Qwen2ForCausalLM-2.5"
    assert standins.build_hub_cache(tmp_path, names=["tiny-Qwen2ForCausalLM-2.5"], qwen_vocab=qwen_vocab) == {}
    model = AutoModelForCausalLM.from_pretrained(repo_id, cache_dir=tmp_path, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(repo_id, cache_dir=tmp_path, local_files_only=True)
    assert type(model).__name__ == "Qwen2ForCausalLM" and model.config.hidden_size == 8
    assert model.config.vocab_size == vocab_size  # with qwen_vocab: TRL's tests hard-code eos 151645, pad 151643
    assert (tokenizer.eos_token_id, tokenizer.pad_token_id) == eos_pad
    text = "Beautiful is better than ugly. \u00e9\u2014"
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text  # byte-level: any text round-trips
    chat = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert chat == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def _constant_reward(completions, **kwargs):
    return [1.0] * len(completions)


@pytest.mark.parametrize("weights, expected", [(None, [0.0, 1.0]), ([2.0], [0.0, 2.0])])
def test_drop_in_votes_once_with_the_vote_at_weight_zero(tiny_model_path, tmp_path, weights, expected):
    args = ttrl_drop_in.GRPOConfig(
        output_dir=str(tmp_path), num_generations=4, per_device_train_batch_size=8, reward_weights=weights,
        **CPU_TRAINING_ARGS,
    )  # fmt: skip
    assert args.n_votes_per_prompt == 4 and args.vote_rounds == 1
    dataset = Dataset.from_list([{"prompt": "1+1="}, {"prompt": "2+2="}])
    trainer = ttrl_drop_in.GRPOTrainer(
        model=str(tiny_model_path), reward_funcs=_constant_reward, args=args, train_dataset=dataset
    )
    assert trainer.reward_func_names == ["ttrl_majority", "_constant_reward"]
    assert trainer.reward_weights.tolist() == expected


def test_only_the_import_line_changes_for_ttrl(tmp_path):
    run = _run_module()
    src = tmp_path / "src"
    (src / "tests").mkdir(parents=True)
    for name in ("testing_utils.py", "conftest.py"):
        (src / "tests" / name).write_text("")
    body = "import torch\n" + run.TRL_IMPORT + "x = GRPOTrainer\n"
    (src / "tests" / "test_grpo_trainer.py").write_text(body)
    grpo = run.prepare_suite(src, tmp_path / "grpo", "grpo").read_text()
    ttrl = run.prepare_suite(src, tmp_path / "ttrl", "ttrl").read_text()
    assert grpo == body
    assert ttrl == body.replace(run.TRL_IMPORT, run.DROP_IN_IMPORT)
    (src / "tests" / "test_grpo_trainer.py").write_text("from trl import GRPOTrainer\n")
    with pytest.raises(SystemExit, match="no longer has the line"):
        run.prepare_suite(src, tmp_path / "ttrl", "ttrl")
