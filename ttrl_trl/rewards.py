"""The TTRL reward as a TRL reward function: 1.0 for agreeing with the majority answer, else 0.0.

Ground truth never enters: TTRL trains on unlabelled test questions, so dataset columns such as
``answer`` arrive in ``**kwargs`` (TRL passes every column) and are ignored on purpose.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ttrl_trl.voting import majority_vote

REWARD_NAME = "ttrl_majority"


def majority_vote_reward(
    prompts: Sequence[Any] | None,
    completions: Sequence[Any],
    ttrl_match: Sequence[Any] | None = None,
    **kwargs: Any,
) -> list[float]:
    """1.0 for each completion whose answer matches its prompt's majority-voted answer, else 0.0.

    ``ttrl_match`` is what :class:`~ttrl_trl.trainer.TTRLTrainer` computed over the full vote
    (all ``n_votes_per_prompt`` samples, gathered across ranks); it is used as is. Without it
    (plain ``GRPOTrainer``), consecutive completions of the same prompt are voted on here, which
    is only the full vote when a rank holds the whole group.
    """
    if ttrl_match is not None:
        if len(ttrl_match) != len(completions):
            raise ValueError(f"ttrl_match has {len(ttrl_match)} entries for {len(completions)} completions")
        return [1.0 if match else 0.0 for match in ttrl_match]  # None (no vote) counts as no match
    texts = [completion_text(c) for c in completions]
    rewards: list[float] = []
    for start, end in _prompt_groups(prompts, len(texts)):
        rewards.extend(1.0 if match else 0.0 for match in majority_vote(texts[start:end]).matches)
    return rewards


majority_vote_reward.__name__ = REWARD_NAME  # TRL logs rewards/<__name__>/mean


def completion_text(completion: Any) -> str:
    """Plain text of a completion: a string, or the last assistant turn of a conversational one."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return _content_text(completion.get("content"))
    messages = list(completion or [])
    assistant = [m for m in messages if isinstance(m, dict) and m.get("role", "assistant") == "assistant"]
    return _content_text(assistant[-1].get("content")) if assistant else ""


def _content_text(content: Any) -> str:
    """Message content as text; multimodal content lists keep their text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def _prompt_groups(prompts: Sequence[Any] | None, n: int) -> list[tuple[int, int]]:
    """[start, end) ranges of consecutive completions that share an identical prompt."""
    if prompts is None:
        return [(0, n)] if n else []
    if len(prompts) != n:
        raise ValueError(f"got {len(prompts)} prompts for {n} completions")
    keys = [_prompt_key(p) for p in prompts]
    groups: list[tuple[int, int]] = []
    for i in range(n):
        if i == 0 or keys[i] != keys[i - 1]:
            groups.append((i, i + 1))
        else:
            groups[-1] = (groups[-1][0], i + 1)
    return groups


def _prompt_key(prompt: Any) -> str:
    """A comparable key for string and conversational prompts alike."""
    return prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True, default=str)
