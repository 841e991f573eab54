"""One vote per prompt group across ranks, and the vote rounds' layout against TRL's vLLM server slicing."""

from __future__ import annotations

import threading
from collections import Counter
from types import SimpleNamespace

import pytest
import trl.generation.vllm_generation as vllm_generation
from helpers import run_ranks
from helpers import small_layouts as _layouts
from mp_train import timed_out_vote

from ttrl_trl.vote.group_vote import (
    answers_by_group,
    decide_group_votes,
    group_answers,
    groups_of_rank,
    vote_group,
)
from ttrl_trl.vote.sampler import repeat_slots, split_rounds
from ttrl_trl.vote.voting import answers_equivalent


def test_groups_are_dealt_round_robin() -> None:
    assert groups_of_rank(5, 0, 2) == [0, 2, 4]
    assert groups_of_rank(5, 1, 2) == [1, 3]
    assert groups_of_rank(1, 1, 2) == []
    assert sorted(g for r in range(3) for g in groups_of_rank(7, r, 3)) == list(range(7))


def test_group_answers_take_every_round_of_the_group() -> None:
    rounds = [["a0", "a1", "b0", "b1"], ["a2", "a3", "b2", "b3"]]  # 2 groups of G=2, 2 rounds
    assert group_answers(rounds, 0, 2) == ["a0", "a1", "a2", "a3"]
    assert group_answers(rounds, 1, 2) == ["b0", "b1", "b2", "b3"]


def test_vote_group_grades_against_the_gold_answer_for_metrics() -> None:
    result = vote_group(["1/2", "0.5", "3", None], truth="\\frac{1}{2}")
    assert result.vote.label == "0.5" and result.vote.matches == [True, True, False, False]
    assert result.correct == (True, True, False, False) and result.label_correct is True
    assert vote_group(["3"]).correct is None


def test_a_timeout_on_one_rank_cannot_split_a_group_between_two_labels() -> None:
    # Two groups of G=2 over 2 rounds; rank 1's grader "times out" (1/2 and 0.5 look different to it).
    rounds = [["1/2", "0.5", "7", "7"], ["0.5", "3", "7.0", "8"]]
    truths = ["0.5", "7"]

    def body(rank, gather):
        vote = timed_out_vote if rank == 1 else vote_group
        return decide_group_votes(
            answers_by_group(rounds, 2), truths, rank=rank, world_size=2, gather=gather, vote=vote
        )

    # Each rank voting on its own would disagree on group 0 (label 1/2 vs 0.5) and group 1 (7 vs 7 with 7.0 apart).
    assert (
        vote_group(group_answers(rounds, 1, 2)).vote.matches
        != timed_out_vote(group_answers(rounds, 1, 2)).vote.matches
    )
    rank0, rank1 = run_ranks(2, body)
    assert rank0 == rank1  # every rank rewards against the very same labels and matches
    assert answers_equivalent(rank0[0].vote.label, "1/2") and rank0[0].vote.matches == [True, True, True, False]  # decided by rank 0
    assert rank0[1].vote.matches == [True, True, False, False]  # decided by rank 1 (its timeout: 7.0 apart)


def test_every_group_is_voted_once() -> None:
    calls: list[tuple[int, tuple]] = []

    def counting_vote(answers, truth=None):
        calls.append((int(threading.current_thread().name), tuple(answers)))
        return vote_group(answers, truth)

    rounds = [[str(i % 3) for i in range(12)]]  # 6 groups of G=2, 1 round
    results = run_ranks(
        3,
        lambda rank, gather: decide_group_votes(
            answers_by_group(rounds, 2), None, rank, 3, gather, vote=counting_vote
        ),
    )
    assert len(calls) == 6 and sorted(rank for rank, _ in calls) == [0, 0, 1, 1, 2, 2]
    assert results[0] == results[1] == results[2] and len(results[0]) == 6


def test_inconsistent_inputs_are_reported() -> None:
    with pytest.raises(ValueError, match="num_generations=4"):
        answers_by_group([["1"] * 6], 4)
    with pytest.raises(ValueError, match="3 gold answers for 2 prompt groups"):
        decide_group_votes(answers_by_group([["1"] * 4], 2), ["1", "2", "3"], 0, 1, gather=list)


# ---------------------------------------------------------------- vLLM server mode: one call for several rounds


class _FakeServer:
    """Stands in for TRL's vLLM client: sample k of prompt p is ``p + [k]``, so every output names its prompt."""

    def generate(self, prompts, features=None, n=1, **kwargs):
        completions = [list(p) + [k] for p in prompts for k in range(n)]
        return {
            "prompt_ids": prompts,
            "completion_ids": completions,
            "logprobs": [[[-0.5] for _ in c] for c in completions],
        }


def _server_generate(all_rank_prompts: list[list[list[int]]], num_generations: int) -> list[list[list[int]]]:
    """Each rank's completions from TRL's real server-mode ``VLLMGeneration.generate`` (gather/broadcast faked)."""
    gathered = [p for rank_prompts in all_rank_prompts for p in rank_prompts]
    payload: list = []
    outputs = []
    for rank, prompts in enumerate(all_rank_prompts):
        gen = object.__new__(vllm_generation.VLLMGeneration)
        gen.__dict__.update(
            mode="server",
            accelerator=SimpleNamespace(process_index=rank, is_main_process=rank == 0),
            temperature=1.0,
            top_p=1.0,
            top_k=0,
            min_p=None,
            repetition_penalty=1.0,
            max_completion_length=8,
            enable_sleep_mode=False,
            _llm_weights_sleeping=False,
            vllm_client=_FakeServer(),
            logprobs=0,
            structured_outputs_regex=None,
            generation_kwargs={},
        )

        def broadcast(obj_list, from_process=0):
            if obj_list[0] is not None:
                payload[:] = [obj_list[0]]
            obj_list[0] = payload[0]

        def gather(items, _mine=prompts):  # TRL gathers the prompts, then the (absent) images
            return list(gathered) if items is _mine else [None] * len(gathered)

        vllm_generation.gather_object = gather
        vllm_generation.broadcast_object_list = broadcast
        _, completion_ids, _, _ = gen.generate(prompts, None, num_generations)
        outputs.append(completion_ids)
    return outputs


@pytest.fixture
def restore_vllm_collectives():
    saved = vllm_generation.gather_object, vllm_generation.broadcast_object_list
    yield
    vllm_generation.gather_object, vllm_generation.broadcast_object_list = saved


@pytest.mark.usefixtures("restore_vllm_collectives")
def test_repeated_slots_keep_trls_server_dedup_aligned_in_every_layout() -> None:
    checked = 0
    for world, rows, group in _layouts():
        global_prompts = [[100 + slot // group] for slot in range(world * rows)]  # TRL's layout: blocks of G
        ranks = [global_prompts[r * rows : (r + 1) * rows] for r in range(world)]
        for copies in (1, 2, 3):
            outputs = _server_generate([repeat_slots(p, copies) for p in ranks], group * copies)
            for rank_prompts, rank_outputs in zip(ranks, outputs):
                for round_outputs in split_rounds(rank_outputs, copies):
                    assert [c[:-1] for c in round_outputs] == rank_prompts, (world, rows, group, copies)
            # ... and every group gets distinct samples: G * copies of them, none twice.
            samples = Counter((c[0], c[-1]) for rank_outputs in outputs for c in rank_outputs)
            assert set(samples.values()) == {1}
            checked += 1
    assert checked > 100


@pytest.mark.usefixtures("restore_vllm_collectives")
def test_round_major_repetition_would_break_the_dedup_when_a_group_spans_ranks() -> None:
    """Why the slots are repeated back to back: ``prompts * copies`` misaligns TRL's every-G-th dedup."""
    rows, group = 6, 4
    global_prompts = [[100 + slot // group] for slot in range(2 * rows)]
    ranks = [global_prompts[:rows], global_prompts[rows:]]
    outputs = _server_generate([p * 2 for p in ranks], group)
    wrong = sum(c[:-1] != p for rank_prompts, out in zip(ranks, outputs) for c, p in zip(out, rank_prompts * 2))
    assert wrong > 0
