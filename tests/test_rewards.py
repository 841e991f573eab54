"""The TRL reward function: 1/0 agreement with the majority answer, never with the ground truth."""

from __future__ import annotations

import pytest

from ttrl_trl.training.rewards import (
    REWARD_NAME,
    VotedCompletions,
    VoteReward,
    completion_text,
    majority_vote_reward,
)

PROMPT_A = "What is 7/2?"
PROMPT_B = "What is 2+2?"


def test_stable_name_for_logging() -> None:
    assert majority_vote_reward.__name__ == REWARD_NAME == "ttrl_majority"


def test_vote_reward_returns_the_rewards_that_came_with_the_completions_and_checks_their_count() -> None:
    reward = VoteReward()
    assert reward.__name__ == REWARD_NAME
    ids = VotedCompletions([[1], [2], [3]], [0.0, 1.0, 1.0])
    assert ids == [[1], [2], [3]]  # TRL sees the plain token ids
    assert reward([PROMPT_A] * 3, ["a", "b", "c"], completion_ids=ids, answer=["x"] * 3) == [0.0, 1.0, 1.0]
    with pytest.raises(RuntimeError, match="2 completions"):
        reward([PROMPT_A] * 2, ["a", "b"], completion_ids=ids)
    with pytest.raises(RuntimeError, match="only works inside TTRLTrainer"):  # ids without rewards: not the trainer's
        reward([PROMPT_A] * 3, ["a", "b", "c"], completion_ids=[[1], [2], [3]])
    with pytest.raises(ValueError, match="2 vote rewards for 1 completions"):
        VotedCompletions([[1]], [0.0, 1.0])


def test_votes_per_consecutive_prompt_group() -> None:
    prompts = [PROMPT_A] * 4 + [PROMPT_B] * 3
    completions = [
        "\\boxed{\\frac{7}{2}}",
        "\\boxed{3.5}",
        "\\boxed{3}",
        "no idea",
        "\\boxed{5}",
        "\\boxed{4}",
        "\\boxed{4.0}",
    ]
    assert majority_vote_reward(prompts, completions) == [1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0]


def test_conversational_completions_and_prompts() -> None:
    prompt = [{"role": "system", "content": "Reason."}, {"role": "user", "content": PROMPT_B}]
    completions = [
        [{"role": "assistant", "content": "2+2 = \\boxed{4}"}],
        [{"role": "assistant", "content": [{"type": "text", "text": "It is \\boxed{5}"}]}],
        [{"role": "assistant", "content": "so \\boxed{4}"}],
    ]
    assert majority_vote_reward([prompt] * 3, completions) == [1.0, 0.0, 1.0]


def test_ground_truth_never_changes_the_reward() -> None:
    prompts = [PROMPT_B] * 3
    completions = ["\\boxed{5}", "\\boxed{5}", "\\boxed{4}"]
    plain = majority_vote_reward(prompts, completions)
    with_truth = majority_vote_reward(prompts, completions, answer=["4"] * 3, solution=["4"] * 3)
    assert plain == with_truth == [1.0, 1.0, 0.0]


def test_no_answers_give_zero_reward() -> None:
    assert majority_vote_reward([PROMPT_A] * 2, ["hmm", "no idea"]) == [0.0, 0.0]


def test_prompt_count_must_match() -> None:
    with pytest.raises(ValueError, match="prompts"):
        majority_vote_reward([PROMPT_A], ["\\boxed{1}", "\\boxed{1}"])


def test_completion_text() -> None:
    assert completion_text("plain") == "plain"
    assert completion_text([{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}]) == "b"
    assert completion_text([]) == ""
