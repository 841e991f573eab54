"""What both generation backends share: the prompt types, the tokenizer and the chat rendering."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ttrl_trl.evaluation.errors import EvalConfigError, check
from ttrl_trl.evaluation.model_source import ModelSource

Prompt = list[dict[str, str]]
# Takes every problem's conversational prompt, returns the k completion texts of each, in order.
GenerateFn = Callable[[list[Prompt]], list[list[str]]]


def load_tokenizer(source: ModelSource) -> Any:
    """Load the tokenizer (left padding, a pad token) and insist on a chat template, as training uses one."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source.tokenizer)
    except OSError as err:
        raise EvalConfigError(
            f"model_name_or_path: cannot load a tokenizer from {source.tokenizer!r} ({err}). "
            f"Pass a local model folder, or a Hub id while online."
        ) from err
    check(
        tokenizer.chat_template is not None,
        f"The tokenizer of {source.tokenizer!r} has no chat template; prompts are chat messages. "
        f"Use an instruct/chat checkpoint, or save a tokenizer with a chat_template next to the model.",
    )
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def chat_texts(tokenizer: Any, prompts: Sequence[Prompt]) -> list[str]:
    """The prompts rendered through the chat template, ending with the assistant turn's opening."""
    return [tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=False) for p in prompts]


def prompt_token_ids(tokenizer: Any, prompts: Sequence[Prompt]) -> list[list[int]]:
    """The rendered prompts as token ids, for vLLM: the template already holds BOS, and handing vLLM the
    text would tokenise it with another."""
    return [tokenizer(t, add_special_tokens=False)["input_ids"] for t in chat_texts(tokenizer, prompts)]
