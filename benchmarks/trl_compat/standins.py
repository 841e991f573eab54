"""Offline stand-ins for the Hub repositories TRL's GRPO tests download.

Models: random tiny models of the same architectures, with the shapes of TRL's own generator
scripts (``scripts/generate_tiny_models`` in TRL's repository: hidden size 8, 4 heads, 2 KV heads,
2 layers, bf16), saved with ``save_pretrained`` into a Hub-cache layout
(``models--org--name/snapshots/<sha>``), so that with ``HF_HUB_CACHE`` pointing there and
``HF_HUB_OFFLINE=1`` every loader (``from_pretrained`` of any Auto class, TRL's processing-class
lookup, PEFT) resolves the ids unchanged. The tokenizer is a byte-level BPE without merges (every
string encodes, 259 ids) with a ChatML template, as Qwen's; optionally the Qwen stand-ins keep
Qwen's vocabulary size and special-token ids.

Datasets: ``trl-internal-testing/zen`` is rebuilt by running TRL's own generator script
(``scripts/generate_zen_dataset.py``) with ``push_to_hub`` captured, so the rows are TRL's.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import GenerationConfig, PreTrainedTokenizerFast

from ttrl_trl.tiny import CHAT_TEMPLATE, IM_END, IM_START  # ChatML, as Qwen's: written once, in ttrl_trl.tiny
from ttrl_trl.tiny import PAD_TOKEN as PAD

ORG = "trl-internal-testing"

# With `qwen_vocab`, Qwen stand-ins keep Qwen's vocabulary size and special-token ids (two tests hard-code
# 151643 / 151645 and rely on EOS being as rare as in a 152k vocabulary); otherwise all use 259 tokens.
QWEN_SPECIAL_IDS = {PAD: 151643, IM_START: 151644, IM_END: 151645}
QWEN_VOCAB_SIZE = 151936

_SMALL = dict(hidden_size=8, num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=2, intermediate_size=32)
_REWARD = dict(_SMALL, hidden_size=16, num_labels=1)

# Hub id (without the org) -> (config class, model class, config kwargs), after TRL's generator scripts.
MODELS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "tiny-Qwen2ForCausalLM-2.5": ("Qwen2Config", "Qwen2ForCausalLM", _SMALL),
    "tiny-Qwen3ForCausalLM": ("Qwen3Config", "Qwen3ForCausalLM", _SMALL),
    "tiny-Qwen3MoeForCausalLM": (
        "Qwen3MoeConfig",
        "Qwen3MoeForCausalLM",
        dict(_SMALL, num_experts=4, num_experts_per_tok=2, norm_topk_prob=True, moe_intermediate_size=32),
    ),
    "tiny-LlamaForCausalLM-3.2": ("LlamaConfig", "LlamaForCausalLM", _SMALL),
    "tiny-MistralForCausalLM-0.2": ("MistralConfig", "MistralForCausalLM", _SMALL),
    "tiny-Gemma2ForCausalLM": ("Gemma2Config", "Gemma2ForCausalLM", _SMALL),
    "tiny-Cohere2ForCausalLM": ("Cohere2Config", "Cohere2ForCausalLM", dict(_SMALL, logit_scale=1.0)),
    "tiny-Glm4MoeForCausalLM": (
        "Glm4MoeConfig",
        "Glm4MoeForCausalLM",
        dict(
            _SMALL,
            moe_intermediate_size=32,
            head_dim=2,
            n_routed_experts=4,
            num_experts_per_tok=2,
            attention_bias=True,
            routed_scaling_factor=2.5,
            use_qk_norm=True,
            num_nextn_predict_layers=1,
        ),
    ),
    "tiny-GptOssForCausalLM": (
        "GptOssConfig",
        "GptOssForCausalLM",
        dict(_SMALL, num_local_experts=4, num_experts_per_tok=2),
    ),
    "tiny-NemotronHForCausalLM-nano": (
        "NemotronHConfig",
        "NemotronHForCausalLM",
        dict(
            hidden_size=16,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=32,
            layers_block_type=["mamba", "attention", "moe"],
            mamba_num_heads=8,
            mamba_head_dim=4,
            mamba_n_groups=1,
            ssm_state_size=16,
            mamba_d_conv=4,
            mamba_expand=2,
            n_routed_experts=4,
            num_experts_per_tok=2,
            moe_intermediate_size=32,
            moe_shared_expert_intermediate_size=32,
            use_mamba_kernels=False,
        ),
    ),
    "tiny-Qwen2ForSequenceClassification-2.5": ("Qwen2Config", "Qwen2ForSequenceClassification", _REWARD),
    "tiny-Qwen3ForSequenceClassification": ("Qwen3Config", "Qwen3ForSequenceClassification", _REWARD),
    "tiny-LlamaForSequenceClassification-3.2": ("LlamaConfig", "LlamaForSequenceClassification", _REWARD),
}


def build_tokenizer(special_ids: dict[str, int] | None = None) -> PreTrainedTokenizerFast:
    """Byte-level BPE with no merges (encodes any text) and a ChatML template.

    Without ``special_ids``: 3 special tokens then 256 byte symbols (259 ids). With them (Qwen's layout:
    some TRL tests hard-code Qwen's ids 151643 / 151645): bytes first, inert filler tokens up to the
    first special id, the special tokens at their ids.
    """
    specials = [PAD, IM_START, IM_END]
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    if special_ids is None:
        vocab = {tok: i for i, tok in enumerate(specials + alphabet)}
    else:
        vocab = {tok: i for i, tok in enumerate(alphabet)}
        vocab.update({f"<|filler_{i}|>": i for i in range(len(vocab), min(special_ids.values()))})
        vocab.update(special_ids)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens(specials)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token=PAD, eos_token=IM_END)
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def snapshot_dir(hub_cache: Path, repo_id: str, repo_type: str = "models") -> Path:
    """``<cache>/models--org--name/snapshots/<sha>``, with ``refs/main`` pointing at it (huggingface_hub's layout)."""
    repo_dir = hub_cache / f"{repo_type}--{repo_id.replace('/', '--')}"
    sha = hashlib.sha1(repo_id.encode()).hexdigest()
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / "main").write_text(sha)
    path = repo_dir / "snapshots" / sha
    path.mkdir(parents=True, exist_ok=True)
    return path


def build_model(name: str, folder: Path, tokenizer: PreTrainedTokenizerFast, seed: int = 0) -> None:
    config_cls, model_cls, kwargs = MODELS[name]
    config = getattr(transformers, config_cls)(
        vocab_size=QWEN_VOCAB_SIZE if len(tokenizer) > QWEN_SPECIAL_IDS[PAD] else len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        **kwargs,
    )
    torch.manual_seed(seed)
    model = getattr(transformers, model_cls)(config).to(dtype=torch.bfloat16)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, do_sample=True
    )
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def build_hub_cache(hub_cache: Path, names: list[str] | None = None, qwen_vocab: bool = False) -> dict[str, str]:
    """Write the stand-in models (all by default) into ``hub_cache``; returns {repo id: error} for failures.

    ``qwen_vocab``: the Qwen stand-ins get Qwen's vocabulary size and special ids (about 10x slower tests).
    """
    small = build_tokenizer()
    tokenizers = {False: small, True: build_tokenizer(QWEN_SPECIAL_IDS) if qwen_vocab else small}
    failed = {}
    for name in names or MODELS:
        repo_id = f"{ORG}/{name}"
        folder = snapshot_dir(hub_cache, repo_id)
        if (folder / "config.json").is_file():
            continue
        try:
            build_model(name, folder, tokenizers[name.startswith("tiny-Qwen")])
        except Exception as err:  # an architecture this transformers cannot build: its tests skip
            failed[repo_id] = f"{type(err).__name__}: {err}"
            (folder / "BUILD_FAILED").write_text(failed[repo_id])
    return failed


def build_zen(zen_script: Path, out_dir: Path) -> list[str]:
    """Run TRL's ``generate_zen_dataset.py`` with ``push_to_hub`` captured; save each config with ``save_to_disk``."""
    from datasets import DatasetDict

    saved: list[str] = []
    original = DatasetDict.push_to_hub

    def capture(self, repo_id, config_name="default", **_):
        self.save_to_disk(str(out_dir / config_name))
        saved.append(config_name)

    spec = importlib.util.spec_from_file_location("trl_generate_zen_dataset", zen_script)
    script = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = script  # its dataclass needs its module registered
    spec.loader.exec_module(script)
    DatasetDict.push_to_hub = capture
    try:
        script.main(test_size=0.1, push_to_hub=True, repo_id=f"{ORG}/zen")
    finally:
        DatasetDict.push_to_hub = original
    return saved
