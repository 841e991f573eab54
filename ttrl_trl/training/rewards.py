"""The TTRL reward as a TRL reward function: 1.0 for agreeing with the majority answer, else 0.0.

Two forms. :class:`VoteReward` is what :class:`~ttrl_trl.training.trainer.TTRLTrainer` puts first in its
reward functions: it hands TRL the rewards the trainer computed from the full vote (all
``n_votes_per_prompt`` samples, gathered across ranks), without adding a column to the inputs
that callbacks and other reward functions see. :func:`majority_vote_reward` is the stand-alone
function for a plain ``GRPOTrainer``: it votes on the completions it is given.

Ground truth never enters: TTRL trains on unlabelled test questions. The trainer withholds the
ground-truth column from every reward function; with a plain ``GRPOTrainer``, columns such as
``answer`` arrive in ``**kwargs`` and are ignored on purpose.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ttrl_trl.vote.voting import majority_vote

REWARD_NAME = "ttrl_majority"


def majority_vote_reward(prompts: Sequence[Any] | None, completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """1.0 for each completion whose answer matches its prompt's majority-voted answer, else 0.0.

    For a plain ``GRPOTrainer``: consecutive completions of the same prompt are voted on here,
    which is the full vote only when a rank holds the whole group. ``TTRLTrainer`` replaces it
    with :class:`VoteReward`, fed by the vote over all ``n_votes_per_prompt`` samples of all ranks.
    """
    texts = [completion_text(c) for c in completions]
    rewards: list[float] = []
    for start, end in _prompt_groups(prompts, len(texts)):
        rewards.extend(1.0 if match else 0.0 for match in majority_vote(texts[start:end]).matches)
    return rewards


majority_vote_reward.__name__ = REWARD_NAME  # TRL logs rewards/<__name__>/mean


class VoteReward:
    """The trainer's vote reward: returns the rewards the trainer set for the current local batch.

    The trainer decides each group's vote once across ranks while generating, and sets
    :attr:`rewards` (one per local kept completion, in TRL's order) before TRL scores the batch.
    Keeping them here, rather than in an extra dataset column, leaves the caller's inputs as
    plain ``GRPOTrainer`` would leave them.
    """

    __name__ = REWARD_NAME

    def __init__(self) -> None:
        self.rewards: list[float] = []

    def __call__(self, prompts: Sequence[Any] | None, completions: Sequence[Any], **kwargs: Any) -> list[float]:
        if len(self.rewards) != len(completions):
            raise RuntimeError(
                f"the vote produced {len(self.rewards)} rewards for {len(completions)} completions; VoteReward only "
                "works inside TTRLTrainer (use majority_vote_reward with a plain GRPOTrainer)"
            )
        return list(self.rewards)


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
