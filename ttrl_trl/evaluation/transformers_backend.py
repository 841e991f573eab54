"""Batched transformers generation: the CPU path, and the way to evaluate a model held in memory."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ttrl_trl.evaluation.config import EvalConfig
from ttrl_trl.evaluation.generation import GenerateFn, Prompt, chat_texts
from ttrl_trl.evaluation.model_source import ModelSource
from ttrl_trl.evaluation.sampling import SamplingSettings


def load_transformers_model(source: ModelSource, dtype: str) -> Any:
    """Load the base model, merge the LoRA adapter into it if any, and put it on the GPU if there is one."""
    import torch
    from transformers import AutoModelForCausalLM

    torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
    model = AutoModelForCausalLM.from_pretrained(source.base, dtype=torch_dtype)
    if source.adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, source.adapter).merge_and_unload()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return model.to(device).eval()


def eos_ids_of(model: Any, tokenizer: Any) -> list[int]:
    """Every id that ends a response: the generation config's (often several) and the tokenizer's."""
    ids = model.generation_config.eos_token_id
    ids = [] if ids is None else [ids] if isinstance(ids, int) else list(ids)
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids


def sampling_kwargs(settings: SamplingSettings) -> dict[str, Any]:
    """generate() settings that match vLLM's: no top-k, no repetition penalty; temperature 0 is greedy."""
    if settings.temperature == 0:
        return {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    return {"do_sample": True, "temperature": settings.temperature, "top_p": settings.top_p, "top_k": 0}


def decode_response(tokenizer: Any, token_ids: Sequence[int], eos_ids: Sequence[int]) -> str:
    """Cut at the first end-of-sequence token (what follows is padding), then decode."""
    ids = list(token_ids)
    end = next((i for i, t in enumerate(ids) if t in eos_ids), len(ids))
    return tokenizer.decode(ids[:end], skip_special_tokens=True)


def sample_completions(
    model: Any, tokenizer: Any, prompts: Sequence[Prompt], settings: SamplingSettings, seed: int | None = None
) -> list[list[str]]:
    """``settings.num_samples`` completions per prompt with ``model.generate``, ``settings.batch_size`` prompts per
    call, left-padded (the tokenizer's padding side is put back afterwards).

    With ``seed``, the batch starting at prompt ``i`` is seeded with ``seed + i``: the benchmark evaluation during
    training passes ``seed + index of its first problem``, and ``ttrl-eval`` seeds each chunk of ``batch_size``
    problems the same way, so both draw the very same samples for the same problem, model and seed.
    """
    import torch
    from transformers import set_seed

    k, eos_ids, side = settings.num_samples, eos_ids_of(model, tokenizer), tokenizer.padding_side
    texts = chat_texts(tokenizer, prompts)
    kwargs = sampling_kwargs(settings) | {
        "max_new_tokens": settings.max_new_tokens,
        "num_return_sequences": k,
        "repetition_penalty": 1.0,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": eos_ids,
    }
    results: list[list[str]] = []
    tokenizer.padding_side = "left"
    try:
        for start in range(0, len(texts), settings.batch_size):
            batch = texts[start : start + settings.batch_size]
            enc = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
            if seed is not None:
                set_seed(seed + start)
            with torch.inference_mode():
                out = model.generate(**enc, **kwargs)
            decoded = [decode_response(tokenizer, r, eos_ids) for r in out[:, enc["input_ids"].shape[1] :].tolist()]
            results += [decoded[i * k : (i + 1) * k] for i in range(len(batch))]
    finally:
        tokenizer.padding_side = side
    return results


def transformers_generate_fn(model: Any, tokenizer: Any, config: EvalConfig) -> GenerateFn:
    """Batched, left-padded sampling of k completions per prompt with ``model.generate`` (seeded by the caller,
    chunk by chunk: :func:`ttrl_trl.evaluation.resume.generate_and_score`).

    Also the way to evaluate a model that lives in memory (e.g. right after training): pass the
    result as ``evaluate(config, generate_fn=...)``.
    """
    return lambda prompts: sample_completions(model, tokenizer, prompts, config)
