"""The TTRL reward as a TRL reward function: 1.0 for agreeing with the majority answer, else 0.0.

Two forms. :class:`VoteReward` is what :class:`~ttrl_trl.training.trainer.TTRLTrainer` puts first in its
reward functions: it hands TRL the rewards the vote sampler computed from the full vote (all
``n_votes_per_prompt`` samples, gathered across ranks), without adding a column to the inputs
that callbacks and other reward functions see. :func:`majority_vote_reward` is the stand-alone
function for a plain ``GRPOTrainer``: it votes on the completions it is given. Also here: how the
trainer lays out per-reward-function options with the vote's first, and its refusal of reward
functions that ask for the gold column.

Ground truth never enters: TTRL trains on unlabelled test questions. The trainer withholds the
ground-truth column from every reward function; with a plain ``GRPOTrainer``, columns such as
``answer`` arrive in ``**kwargs`` and are ignored on purpose.
"""

from __future__ import annotations

import inspect
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


class VotedCompletions(list):
    """The kept completions' token ids, carrying their vote rewards to :class:`VoteReward`.

    ``TTRLTrainer`` returns this list from TRL's generation hook; TRL hands the very same list to
    every reward function as ``completion_ids``, so the rewards travel with the batch they belong
    to and nothing is left on an instance for a later call to read.
    """

    def __init__(
        self, completion_ids: Sequence[Any], rewards: Sequence[float], advantage_maps: Sequence[Any] | None = None
    ) -> None:
        super().__init__(completion_ids)
        if len(rewards) != len(self):
            raise ValueError(f"{len(rewards)} vote rewards for {len(self)} completions")
        self.vote_rewards = list(rewards)
        self.advantage_maps = None if advantage_maps is None else list(advantage_maps)
        """The guards' per-completion advantage maps (``ttrl_trl.vote.guards``), or None when no guard is on."""


class VoteReward:
    """The trainer's vote reward: the rewards the vote gave this batch's kept completions.

    They arrive with ``completion_ids`` (a :class:`VotedCompletions`), which TRL passes to every
    reward function; the inputs that callbacks and other reward functions see carry no extra column.
    """

    __name__ = REWARD_NAME

    def __call__(
        self, prompts: Sequence[Any] | None, completions: Sequence[Any], completion_ids: Any = None, **kwargs: Any
    ) -> list[float]:
        rewards = getattr(completion_ids, "vote_rewards", None)
        if rewards is None or len(rewards) != len(completions):
            raise RuntimeError(
                f"no vote rewards came with these {len(completions)} completions; VoteReward only works inside "
                "TTRLTrainer (use majority_vote_reward with a plain GRPOTrainer)"
            )
        return list(rewards)


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


def vote_first(given: list, extras: list, values: list, vote_default: Any, field: str) -> list:
    """A per-reward-function list (weights, processing classes) laid out as the trainer's: the vote's first.

    ``values`` may follow the functions as given (which may include ``majority_vote_reward``
    anywhere), or list only the extras (the vote then gets ``vote_default``).
    """
    if len(values) == len(given) and majority_vote_reward in given:
        by_func = list(zip(given, values))
        vote_value = next(v for f, v in by_func if f is majority_vote_reward)
        return [vote_value, *(v for f, v in by_func if f is not majority_vote_reward)]
    if len(values) == len(extras):
        return [vote_default, *values]
    if len(values) == len(extras) + 1:
        return values
    raise ValueError(
        f"The number of {field} ({len(values)}) must match the number of reward functions: give one per extra "
        f"reward function ({len(extras)}), or one per function with the TTRL vote's first ({len(extras) + 1})."
    )


def refuse_ground_truth_parameters(reward_funcs: list, column: str) -> None:
    """A reward function that names the gold column would train on the answers: refuse it up front."""
    import torch  # here, so the vote reward functions above import without torch

    for func in reward_funcs:
        if isinstance(func, str | torch.nn.Module) or not callable(func):
            continue
        try:
            parameters = inspect.signature(func).parameters
        except (TypeError, ValueError):
            continue
        if column in parameters:
            name = getattr(func, "__name__", type(func).__name__)
            raise ValueError(
                f"Reward function {name!r} takes the ground-truth column {column!r} (ground_truth_column), but TTRL "
                f"never rewards with gold answers: TTRLTrainer withholds that column from every reward function and "
                f"only logs accuracy against it. Remove the `{column}` parameter, or set ground_truth_column to the "
                f"column that really holds the gold answers."
            )


def require_gold_column(dataset: Any, column: str) -> None:
    """The ``oracle`` control rewards against gold answers: refuse a dataset that has none, before training."""
    columns = getattr(dataset, "column_names", None)
    if columns is not None and column not in columns:
        raise ValueError(
            f"control_reward='oracle' rewards correctness against the gold answers in column {column!r} "
            f"(ground_truth_column), which the training dataset lacks (columns: {columns}). Set ground_truth_column, "
            "or unset control_reward."
        )


def warn_if_extras_returned_none(
    rewards_per_func: Any, inputs: Any, prompts: Any, completions: Any, rank: int
) -> None:
    """TRL's warning for a row where every reward function returned None, counting only the user's functions.

    The vote reward (column 0) always returns a number, so TRL's own check never fires; this one
    does, with TRL's wording on TRL's logger, where a plain ``GRPOTrainer`` would warn.
    """
    import torch
    from trl.trainer.grpo_trainer import logger as trl_grpo_logger

    if rewards_per_func.size(1) < 2:
        return
    start = rank * len(prompts)
    local = rewards_per_func[start : start + len(prompts), 1:]
    unscored = torch.isnan(local).all(dim=1).nonzero(as_tuple=True)[0]
    if len(unscored):
        row = int(unscored[0])
        row_kwargs = {key: value for key, value in inputs[row].items() if key not in ("prompt", "completion")}
        row_kwargs.update(prompt=prompts[row], completion=completions[row])
        trl_grpo_logger.warning(
            f"All reward functions returned None for the following kwargs:\n{row_kwargs}\nPlease ensure that at "
            f"least one reward function returns a valid reward. (TTRLTrainer: the TTRL vote reward is not "
            f"counted here; {len(unscored)} completion(s) got only the vote reward.)"
        )
