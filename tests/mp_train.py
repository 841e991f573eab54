"""``torchrun ... tests/mp_train.py <train args>``: the real train CLI, with every rank recording its votes.

Used by ``tests/test_multiprocess.py``. Each rank appends JSON lines to
``$TTRL_MP_RECORD_DIR/rank<r>.jsonl``:

* ``candidate``: every completion it drew (generation call, round, global slot, prompt, text, answer),
  from the vote sampler's result (``VoteSample.drawn``);
* ``votes``: the labels and matches it ended up with for every group of that call;
* ``reward``: for every kept completion, the vote reward TRL trained on.

``TTRL_MP_TIMEOUT_RANK=r`` makes rank ``r``'s grader behave as if every math-verify comparison
timed out (only identical strings agree), to show that one rank's verdict cannot split a group.
Nothing here changes what the trainer computes; it only wraps methods to write down what they did.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path


def timed_out_vote(answers, truth=None):
    """A rank whose every comparison times out: only identical strings cluster together."""
    from ttrl_trl.vote.group_vote import GroupVote
    from ttrl_trl.vote.voting import VoteResult

    counts = Counter(a for a in answers if a is not None)
    label = max(counts, key=lambda a: (counts[a], -answers.index(a))) if counts else None
    matches = [a is not None and a == label for a in answers]
    return GroupVote(VoteResult(label, matches, list(answers), sum(matches) / len(answers)))


def install_recorders(record_dir: Path) -> None:
    import torch.distributed as dist

    from ttrl_trl.training import trainer as trainer_module
    from ttrl_trl.vote import sampler as sampler_module
    from ttrl_trl.vote.voting import extract_answer

    trainer_cls, sampler_cls = trainer_module.TTRLTrainer, sampler_module.VoteSampler
    calls = {"n": 0}
    timeout_rank = os.environ.get("TTRL_MP_TIMEOUT_RANK")

    def write(rank: int, record: dict) -> None:
        with open(record_dir / f"rank{rank}.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    sample = sampler_cls.sample

    def recording_sample(self, prompt_ids, *args, **kwargs):
        result = sample(self, prompt_ids, *args, **kwargs)
        rank, world = self.rank, self.world_size
        prompts = self._decode(list(prompt_ids))
        for i, rounds in enumerate(result.drawn):
            texts = self._decode([ids for ids, _ in rounds])
            for t, text in enumerate(texts):
                write(
                    rank,
                    {
                        "kind": "candidate",
                        "call": calls["n"],
                        "rank": rank,
                        "world": world,
                        "dist_world": dist.get_world_size(),
                        "round": t,
                        "slot": rank * len(prompt_ids) + i,
                        "prompt": prompts[i],
                        "text": text,
                        "answer": extract_answer(text),
                    },
                )
        write(
            rank,
            {
                "kind": "votes",
                "call": calls["n"],
                "rank": rank,
                "labels": [v.vote.label for v in result.votes],
                "matches": [v.vote.matches for v in result.votes],
            },
        )
        return result

    decide = sampler_module.decide_group_votes

    def timing_out_decide(*args, **kwargs):
        rank = args[2] if len(args) > 2 else kwargs["rank"]
        if timeout_rank is not None and rank == int(timeout_rank):
            kwargs["vote"] = timed_out_vote
        return decide(*args, **kwargs)

    calculate = trainer_cls._calculate_rewards

    def recording_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards = calculate(self, inputs, prompts, completions, completion_ids_list)
        rank, size = self.accelerator.process_index, len(prompts)
        maps = getattr(completion_ids_list, "advantage_maps", None) or [None] * len(completions)
        for i, completion in enumerate(completions):
            text = completion[0]["content"] if isinstance(completion, list) else completion
            write(
                rank,
                {
                    "kind": "reward",
                    "call": calls["n"] - 1,
                    "rank": rank,
                    "slot": rank * size + i,
                    "problem": prompts[i][-1]["content"],
                    "text": text,
                    "reward": float(rewards[rank * size + i, 0]),
                    "map": None if maps[i] is None else [maps[i].scale, maps[i].shift],
                },
            )
        return rewards

    generate_single_turn = trainer_cls._generate_single_turn

    def counting_generate(self, *args, **kwargs):
        out = generate_single_turn(self, *args, **kwargs)
        calls["n"] += 1
        return out

    sampler_cls.sample = recording_sample
    sampler_module.decide_group_votes = timing_out_decide
    trainer_cls._calculate_rewards = recording_rewards
    trainer_cls._generate_single_turn = counting_generate


if __name__ == "__main__":
    import sys

    install_recorders(Path(os.environ["TTRL_MP_RECORD_DIR"]))
    from ttrl_trl.train import main

    main(sys.argv[1:])
