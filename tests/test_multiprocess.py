"""Two processes (torchrun, gloo, CPU) through the real train CLI, with real transformers generation.

Every rank records what it drew, what each group's vote came to, and the reward each kept
completion trained on (``tests/mp_train.py``). The checks recompute every group's vote from all
ranks' records, independently of the trainer's state, and compare. Run them alone with
``pytest -m multiprocess``. (``accelerate launch --num_processes 2 --cpu`` silently starts one
process with accelerate 1.15, hence torchrun, and hence every test asserts the world size.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from ttrl_trl.vote.guards import GuardRule
from ttrl_trl.vote.voting import answers_equivalent, extract_answer, vote_on_answers

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
LAUNCHER = REPO / "tests" / "mp_train.py"


@pytest.fixture(scope="module")
def question_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("mp-data") / "questions.jsonl"
    path.write_text("".join(json.dumps({"problem": f"Q{i}", "answer": "0.5"}) + "\n" for i in range(12)))
    return path


def torchrun(record_dir: Path, *args: str, timeout_rank: int | None = None) -> list[dict]:
    record_dir.mkdir(parents=True, exist_ok=True)
    for old in record_dir.glob("rank*.jsonl"):
        old.unlink()
    env = {
        **os.environ,
        "TTRL_MP_RECORD_DIR": str(record_dir),
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    env.pop("TTRL_MP_TIMEOUT_RANK", None)
    if timeout_rank is not None:
        env["TTRL_MP_TIMEOUT_RANK"] = str(timeout_rank)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(LAUNCHER),
        *args,
    ]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise AssertionError(f"torchrun failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    records = []
    for path in sorted(record_dir.glob("rank*.jsonl")):
        records.extend(json.loads(line) for line in path.read_text().splitlines())
    return records


def train_args(model: Path, data: Path, out: Path, **overrides) -> list[str]:
    settings = {
        "model_name_or_path": str(model),
        "dataset": str(data),
        "system_prompt": "none",
        "output_dir": str(out),
        "use_cpu": "true",
        "bf16": "false",
        "report_to": "none",
        "logging_steps": "1",
        "seed": "7",
        "max_completion_length": "12",
        "temperature": "1.0",
        "learning_rate": "1e-3",
        "beta": "0.0",
        "loss_type": "dapo",
        "save_strategy": "no",
        "activation_checkpointing": "false",
    }
    settings.update({k: str(v) for k, v in overrides.items()})
    return [token for key, value in settings.items() for token in (f"--{key}", value)]


def check_records(records: list[dict], num_generations: int, rounds: int | None, guard=None) -> dict[str, int]:
    """Recompute every group's vote from all ranks' candidates; each trained reward must equal the match
    (and, with a ``guard``, each completion's advantage map must be the one its group's vote calls for)."""
    kinds = defaultdict(list)
    for r in records:
        kinds[r["kind"]].append(r)
    assert {c["world"] for c in kinds["candidate"]} == {2} and {c["dist_world"] for c in kinds["candidate"]} == {2}
    assert {c["rank"] for c in kinds["candidate"]} == {0, 1}

    groups: dict[tuple[int, int], list[dict]] = defaultdict(list)
    by_slot: dict[tuple[int, int], set[str]] = defaultdict(set)
    for c in kinds["candidate"]:
        groups[c["call"], c["slot"] // num_generations].append(c)
        by_slot[c["call"], c["slot"]].add(c["text"])
    labels, votes = {}, {}
    spanning = 0
    rounds_drawn = []
    for key, members in groups.items():
        group_rounds = {m["slot"]: 0 for m in members}
        for m in members:
            group_rounds[m["slot"]] += 1
        assert len(group_rounds) == num_generations and len(set(group_rounds.values())) == 1  # whole rounds
        rounds_drawn.append(len(members) // num_generations)
        assert rounds is None or rounds_drawn[-1] == rounds
        assert len({m["prompt"] for m in members}) == 1  # one prompt per group, whichever rank drew it
        spanning += len({m["rank"] for m in members}) == 2
        members.sort(key=lambda m: (m["round"], m["slot"]))
        votes[key] = vote_on_answers([extract_answer(m["text"]) for m in members])
        labels[key] = votes[key].label

    # Every rank ended up with the same labels for every call.
    decided = defaultdict(dict)
    for v in kinds["votes"]:
        decided[v["call"]][v["rank"]] = (v["labels"], v["matches"])
    for call, per_rank in decided.items():
        assert per_rank[0] == per_rank[1], f"ranks disagree on call {call}"

    rewarded, kept_rounds, penalised = 0, [], 0
    for r in kinds["reward"]:
        key = (r["call"], r["slot"] // num_generations)
        assert r["text"] in by_slot[r["call"], r["slot"]]  # the kept completion is one of its own slot's draws
        first = next(c["text"] for c in groups[key] if c["slot"] == r["slot"] and c["round"] == 0)
        kept_rounds.append(r["text"] == first)
        assert f"\n{r['problem']}\n" in groups[key][0]["prompt"]  # trained on its own group's prompt
        label = labels[key]
        expected = float(label is not None and answers_equivalent(extract_answer(r["text"]), label))
        assert r["reward"] == expected, (r, label)
        if guard is not None:
            expected_map = guard.map(votes[key], None)  # one visit per prompt here: no flip yet
            assert r["map"] == [expected_map.scale, expected_map.shift], (r, votes[key].ratio)
            penalised += expected_map.shift != 0
        rewarded += 1
    return {
        "groups": len(groups),
        "spanning": spanning,
        "rewarded": rewarded,
        "rounds": sorted(rounds_drawn),
        "kept_first_round": all(kept_rounds),
        "labelled": sum(label is not None for label in labels.values()),
        "rewards_1": sum(r["reward"] == 1.0 for r in kinds["reward"]),
        "penalised": penalised,
        "ratios": sorted(round(v.ratio, 3) for v in votes.values()),
    }


def test_two_processes_vote_once_per_group_train_and_resume(answering_model_path, question_file, tmp_path):
    """3 vote rounds, groups spanning ranks, steps_per_generation 2 x gradient accumulation 2, TRM on; resume."""
    out = tmp_path / "run"
    layout = dict(
        per_device_train_batch_size=3,
        num_generations=4,
        n_votes_per_prompt=12,
        steps_per_generation=2,
        gradient_accumulation_steps=2,
        trm_delta_max=0.5,
        save_strategy="steps",
        save_steps=2,
    )
    records = check_records(
        torchrun(tmp_path / "rec1", *train_args(answering_model_path, question_file, out, max_steps=2, **layout)),
        num_generations=4,
        rounds=3,
    )
    # 2 generation calls x 3 groups (12 slots of 4 over 2 ranks of 6): group 1 spans both ranks each time.
    assert records["groups"] == 6 and records["spanning"] == 2 and records["rewarded"] == 2 * 12
    assert records["labelled"] == 6 and 0 < records["rewards_1"] < 24  # real votes, real 0s and 1s
    assert (out / "checkpoint-2").is_dir()

    resumed = check_records(
        torchrun(
            tmp_path / "rec2",
            *train_args(
                answering_model_path, question_file, out, max_steps=4, resume_from_checkpoint="true", **layout
            ),
        ),
        num_generations=4,
        rounds=3,
    )
    assert resumed["groups"] == 6  # steps 3 and 4 only: the resume did not start over
    state = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    steps = [h for h in state["log_history"] if "ttrl/majority_ratio" in h]
    assert [h["step"] for h in steps] == [1, 2, 3, 4]
    assert all("trm/masked_fraction" in h and "ttrl/generated_tokens" in h for h in steps)
    assert all(h["ttrl/generated_completions"] == 36 for h in steps)  # 12 slots x 3 rounds, both ranks
    # The label history (ttrl/label_flip_rate) travels with the checkpoints: 3 prompts a step, all voted once.
    history = [json.loads((out / f"checkpoint-{n}" / "ttrl_label_history.json").read_text()) for n in (2, 4)]
    assert [len(h["last_label"]) for h in history] == [6, 12]


def test_a_timeout_on_one_rank_still_gives_every_rank_the_same_labels(answering_model_path, question_file, tmp_path):
    """Rank 1 grades as if every comparison timed out; its groups take its verdict, on both ranks alike."""
    records = torchrun(
        tmp_path / "rec",
        *train_args(
            answering_model_path,
            question_file,
            tmp_path / "run",
            max_steps=2,
            per_device_train_batch_size=4,
            num_generations=4,
            n_votes_per_prompt=8,
            steps_per_generation=2,
            trm_delta_max=0.5,
        ),
        timeout_rank=1,
    )
    votes = [r for r in records if r["kind"] == "votes"]
    assert len(votes) == 2 and votes[0]["labels"] == votes[1]["labels"] and votes[0]["matches"] == votes[1]["matches"]
    # Group 1 (rank 1's) was clustered by exact strings: 1/2 and 0.5 never share its cluster.
    candidates = [r for r in records if r["kind"] == "candidate"]
    group1 = sorted((c for c in candidates if c["slot"] // 4 == 1), key=lambda c: (c["round"], c["slot"]))
    answers = [c["answer"] for c in group1]
    for answer, match in zip(answers, votes[0]["matches"][1]):
        assert match == (answer is not None and answer == votes[0]["labels"][1])


def test_two_processes_adaptive_vote_settles_groups_at_different_rounds(answering_model_path, question_file, tmp_path):
    """vote_stop_confidence: every rank draws the same rounds; rewards match the votes over all drawn rounds."""
    records = check_records(
        torchrun(tmp_path / "rec", *train_args(
            answering_model_path, question_file, tmp_path / "run", max_steps=2, per_device_train_batch_size=6,
            num_generations=4, n_votes_per_prompt=16, vote_stop_confidence=0.9,
            low_consensus_threshold=0.75, low_consensus_penalty=0.2,
        )),
        num_generations=4, rounds=None, guard=GuardRule(0.75, 0.2),
    )  # fmt: skip
    assert records["groups"] == 6 and records["spanning"] == 2 and records["rewarded"] == 24
    assert len(set(records["rounds"])) > 1, records["rounds"]  # groups settled after different numbers of rounds
    assert records["kept_first_round"]  # the trained completions are the first round's
    # the RESTRAIN guard acted, with the map each group's vote calls for on both ranks (checked per completion);
    # which groups it spares is tested in-process (tests/test_guards_and_controls.py)
    assert records["penalised"] > 0, records["ratios"]
