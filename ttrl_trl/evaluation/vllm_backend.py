"""vLLM generation (GPU): k samples per prompt in one call, LoRA adapters through a LoRARequest."""

from __future__ import annotations

from typing import Any

from ttrl_trl.evaluation.config import EvalConfig
from ttrl_trl.evaluation.generation import GenerateFn, Prompt, prompt_token_ids
from ttrl_trl.evaluation.model_source import ModelSource

# vLLM only accepts these LoRA ranks as `max_lora_rank`.
VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


def vllm_generate_fn(source: ModelSource, tokenizer: Any, config: EvalConfig) -> GenerateFn:
    """vLLM with SamplingParams(n=k); LoRA adapters go through a LoRARequest. Needs a GPU."""
    from vllm import LLM, SamplingParams
    from vllm.lora.request import LoRARequest

    lora_kwargs: dict[str, Any] = {}
    if source.adapter is not None:
        rank = next((r for r in VLLM_LORA_RANKS if r >= (source.lora_rank or 8)), VLLM_LORA_RANKS[-1])
        lora_kwargs = {"enable_lora": True, "max_lora_rank": rank}
    llm = LLM(model=source.base, tokenizer=source.tokenizer, dtype=config.dtype, seed=config.seed, **lora_kwargs)
    params = SamplingParams(
        n=config.num_samples,
        temperature=config.temperature,
        top_p=config.top_p if config.temperature > 0 else 1.0,
        max_tokens=config.max_new_tokens,
    )
    lora = LoRARequest("adapter", 1, source.adapter) if source.adapter else None

    def generate(prompts: list[Prompt]) -> list[list[str]]:
        ids = prompt_token_ids(tokenizer, prompts)
        outputs = llm.generate([{"prompt_token_ids": i} for i in ids], params, lora_request=lora, use_tqdm=True)
        return [[c.text for c in out.outputs] for out in outputs]

    return generate
