"""Label-free reward options on hand-made votes: exact values, the consensus band, entropy, flips, bad input."""

from __future__ import annotations

import math

import pytest

from ttrl_trl.vote.group_vote import GroupVote, vote_group
from ttrl_trl.vote.label_history import STATE_FILE, LabelHistory
from ttrl_trl.vote.rewards import RewardRule, answer_entropy, check_vote_reward_options, vote_rewards
from ttrl_trl.vote.voting import VoteResult, vote_on_answers

# Two clusters of 2 tie (1/2 == 0.5 first, then 3); 7 alone; one no answer; one that cannot parse.
ANSWERS = ["1/2", "3", "0.5", None, "3", "7", "}{"]


def test_the_vote_exposes_each_answers_cluster() -> None:
    vote = vote_on_answers(ANSWERS)
    c = vote.clusters  # any numbering: what matters is which answers share a cluster
    assert c[0] == c[2] and c[1] == c[4] and len({c[0], c[1], c[5]}) == 3 and None not in (c[0], c[1], c[5])
    assert c[3] is None and c[6] is None
    assert vote.label in ("1/2", "0.5") and vote.matches[0] and vote.matches[2]  # the tie goes to the cluster seen first


def test_majority_rewards_the_tie_winner_and_nothing_else() -> None:
    assert vote_rewards(vote_on_answers(ANSWERS), "majority") == (1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0)


def test_soft_rewards_are_the_share_of_all_votes_in_the_own_cluster() -> None:
    # Over all 7 votes (the no answer and the unparseable one count in the denominator and get 0).
    assert vote_rewards(vote_on_answers(ANSWERS), "soft") == (2 / 7, 2 / 7, 2 / 7, 0.0, 2 / 7, 1 / 7, 0.0)
    assert vote_rewards(vote_on_answers(["5", "5.0", "05"]), "soft") == (1.0, 1.0, 1.0)  # unanimous: as majority
    assert vote_rewards(vote_on_answers([None, None]), "soft") == (0.0, 0.0)
    assert vote_rewards(vote_on_answers([None, None]), "majority") == (0.0, 0.0)


def test_an_unknown_reward_is_refused() -> None:
    with pytest.raises(ValueError, match="vote_reward must be one of majority, soft"):
        check_vote_reward_options("entropy", 0.0, 1.0)
    with pytest.raises(ValueError, match="vote_reward must be one of"):
        vote_rewards(vote_on_answers(["1"]), "entropy")


@pytest.mark.parametrize(
    ("low", "high", "field"),
    [(-0.1, 1.0, "min_majority_ratio"), (0.0, 1.5, "max_majority_ratio"), (0.6, 0.4, "min_majority_ratio")],
)
def test_an_impossible_band_is_refused_naming_the_field(low, high, field) -> None:
    with pytest.raises(ValueError, match=field):
        check_vote_reward_options("majority", low, high)


def test_the_band_zeroes_every_reward_outside_it_and_keeps_its_edges() -> None:
    answers = ["1", "1", "2", "3"]  # majority ratio 0.5
    inside = vote_group(answers, rule=RewardRule("soft", 0.5, 0.5))
    assert not inside.filtered and inside.rewards == (0.5, 0.5, 0.25, 0.25)
    below = vote_group(answers, truth="1", rule=RewardRule("majority", 0.6))
    assert below.filtered and below.rewards == (0.0, 0.0, 0.0, 0.0)
    assert below.label_correct is True  # the metrics still see the vote
    above = vote_group(["4", "4"], rule=RewardRule(max_majority_ratio=0.9))
    assert above.filtered and above.rewards == (0.0, 0.0)


def test_a_group_vote_built_without_rewards_gets_the_majority_ones() -> None:
    vote = VoteResult("1", [True, False], ["1", "2"], 0.5)
    assert GroupVote(vote).rewards == (1.0, 0.0)


def test_answer_entropy_counts_no_answers_as_one_outcome() -> None:
    # Outcomes: {1/2, 0.5}: 2, {3}: 2, {7}: 1, no answer (None and the unparseable one): 2.
    expected = -(3 * (2 / 7) * math.log(2 / 7) + (1 / 7) * math.log(1 / 7))
    assert answer_entropy(vote_on_answers(ANSWERS)) == pytest.approx(expected, abs=1e-12)
    assert answer_entropy(vote_on_answers(["2", "2.0"])) == 0.0
    assert answer_entropy(vote_on_answers([None, None])) == 0.0
    assert answer_entropy(vote_on_answers(["1", "2", "3", "4"])) == pytest.approx(math.log(4))


def test_label_flip_rate_over_a_sequence_of_votes_and_a_resume(tmp_path) -> None:
    history = LabelHistory()
    assert history.update(["a", "b"], [vote_on_answers(["1", "1"]), vote_on_answers(["0.5", "0.5"])]) is None
    # a: 1 -> 2 flips; b: 0.5 -> 1/2 does not (0.5 is still voted, in the winning cluster).
    assert history.update(["a", "b"], [vote_on_answers(["2", "2", "1"]), vote_on_answers(["1/2", "0.5"])]) == 0.5
    # b: label "1/2" -> no label flips; c is new and not counted.
    assert history.update(["b", "c"], [vote_on_answers([None, None]), vote_on_answers(["9"])]) == 1.0
    history.save(tmp_path)
    assert (tmp_path / STATE_FILE).is_file()

    resumed = LabelHistory()
    assert resumed.load(tmp_path) and resumed.last == history.last
    # After the resume: a stays 2 (no flip), b stays without a label (no flip), c 9 -> 8 flips.
    votes = [vote_on_answers(["2"]), vote_on_answers([None]), vote_on_answers(["8"])]
    assert resumed.update(["a", "b", "c"], votes) == pytest.approx(1 / 3)
    # The equivalent form alone (the old string no longer voted) is counted as a flip: the documented over-count.
    assert resumed.update(["a"], [vote_on_answers(["2.0"])]) == 1.0

    assert not LabelHistory().load(tmp_path / "nowhere")


def test_a_label_written_in_unicode_is_compared_in_the_votes_normalised_form() -> None:
    history = LabelHistory()
    history.update(["a"], [vote_on_answers(["\u22123", "\u22123"])])  # U+2212 minus: the label reads "-3"
    # "-3.0" now leads, but the old answer is still voted (as U+2212 3) in the winning cluster: no flip.
    assert history.update(["a"], [vote_on_answers(["\u22123", "-3.0", "-3.0"])]) == 0.0


def test_the_config_refuses_bad_options_naming_the_field(tmp_path) -> None:
    from helpers import tiny_config

    with pytest.raises(ValueError, match="vote_reward must be one of majority, soft; got 'entropy'"):
        tiny_config(tmp_path, vote_reward="entropy")
    with pytest.raises(ValueError, match=r"max_majority_ratio must be in \[0, 1\]"):
        tiny_config(tmp_path, max_majority_ratio=2.0)
    with pytest.raises(ValueError, match=r"min_majority_ratio \(0.8\) must be <= max_majority_ratio \(0.5\)"):
        tiny_config(tmp_path, min_majority_ratio=0.8, max_majority_ratio=0.5)


def test_the_demo_refuses_bad_options_before_any_model_loads(tmp_path) -> None:
    from ttrl_trl.demo.run import main

    out = tmp_path / "demo"
    with pytest.raises(ValueError, match="min_majority_ratio"):
        main(["--output_dir", str(out), "--min_majority_ratio", "0.9", "--max_majority_ratio", "0.2"])
    assert not out.exists()  # failed before the warm-up wrote anything
