"""Small builders shared by the trainer tests, and in-process runs of the command lines."""

from __future__ import annotations

import io
import pickle
import random
import re
import threading
from collections.abc import Callable, Sequence
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

from datasets import Dataset

from ttrl_trl.data import build_prompt
from ttrl_trl.tiny import CPU_TRAINING_ARGS
from ttrl_trl.training.config import TTRLConfig


def toy_dataset(num_problems: int = 4, answers: list[str] | None = None) -> Dataset:
    """Problems tagged ``Q<i>`` so a scripted generator (and the tests) can tell them apart."""
    rows = [{"prompt": build_prompt(f"Q{i}", system_prompt=None)} for i in range(num_problems)]
    if answers is not None:
        for row, answer in zip(rows, answers):
            row["answer"] = answer
    return Dataset.from_list(rows)


def tiny_config(output_dir: Path, **overrides: Any) -> TTRLConfig:
    """A TTRLConfig that trains the tiny model on a CPU in seconds."""
    kwargs: dict[str, Any] = dict(
        output_dir=str(output_dir),
        per_device_train_batch_size=8,
        num_generations=4,
        n_votes_per_prompt=8,
        max_completion_length=12,
        learning_rate=1e-3,
        max_steps=1,
        logging_steps=1,
        **CPU_TRAINING_ARGS,
        seed=0,
        beta=0.0,
    )
    kwargs.update(overrides)
    return TTRLConfig(**kwargs)


def run_ranks(world_size: int, body: Callable[[int, Callable[[list], list]], Any], timeout: float = 30) -> list:
    """Run ``body(rank, gather)`` on ``world_size`` threads; ``gather`` is an in-process all-gather with
    accelerate's ``gather_object`` semantics (every rank's list, concatenated in rank order, each rank
    receiving its own copies, as after pickling). A rank that fails, or ranks that call ``gather`` a
    different number of times, fail the run instead of hanging."""
    barrier = threading.Barrier(world_size, timeout=timeout)
    slots: list = [None] * world_size
    results: list = [None] * world_size
    errors: list[BaseException] = []

    def gather_of(rank: int) -> Callable[[list], list]:
        def gather(items: list) -> list:
            slots[rank] = pickle.dumps(list(items))
            barrier.wait()
            out = [x for rank_items in slots for x in pickle.loads(rank_items)]
            barrier.wait()
            return out

        return gather

    def run(rank: int) -> None:
        try:
            results[rank] = body(rank, gather_of(rank))
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(r,), name=str(r)) for r in range(world_size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    if errors:
        raise errors[0]
    return results


def record_vote_rewards(trainer: Any) -> list[list[float]]:
    """Every batch's vote rewards as TRL received them (the vote reward's column), in call order."""
    calls: list[list[float]] = []
    calculate = trainer._calculate_rewards

    def recording(inputs, prompts, completions, completion_ids_list):
        rewards = calculate(inputs, prompts, completions, completion_ids_list)
        calls.append(rewards[:, 0].tolist())
        return rewards

    trainer._calculate_rewards = recording
    return calls


class ScriptedGenerator:
    """Stands in for TRL's generation call: answers drawn from a fixed per-problem distribution.

    Each completion reads ``Q<i> #<serial> \\boxed{<answer>}`` (or no box), so a test can check
    which prompt a kept completion belongs to and recompute every vote from ``self.generated``.
    """

    def __init__(
        self,
        tokenizer: Any,
        seed: int = 0,
        choices: tuple[str | None, ...] = ("1", "1", "2", None),
        choices_by_tag: dict[str, tuple[str | None, ...]] | None = None,
    ):
        self.tokenizer = tokenizer
        self.rng = random.Random(seed)
        self.choices = choices
        self.choices_by_tag = choices_by_tag or {}
        self.generated: list[tuple[str, str]] = []  # (problem tag, completion text), every vote
        self.rows_per_call: list[int] = []  # how many rows each generation call had

    def __call__(self, trainer, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        completion_ids = []
        self.rows_per_call.append(len(prompt_ids))
        for ids in prompt_ids:
            tag = re.search(r"Q\d+", self.tokenizer.decode(ids, skip_special_tokens=True)).group(0)
            answer = self.rng.choice(self.choices_by_tag.get(tag, self.choices))
            text = f"{tag} #{len(self.generated)} " + (f"\\boxed{{{answer}}}" if answer else "no idea")
            self.generated.append((tag, text))
            completion_ids.append(self.tokenizer(text)["input_ids"] + [self.tokenizer.eos_token_id])
        return completion_ids, None


def teach_boxed_answers(
    init_dir: Path, output_dir: Path, choices: dict[str, float], steps: int = 120, seed: int = 0
) -> Path:
    """Fine-tune the tiny model to answer any short question with ``\\boxed{a}``, ``a`` drawn from ``choices``.

    Real sampling from the result gives real, varied votes (``1/2`` and ``0.5`` both among them, so
    equivalence matters), where the random tiny model mostly writes no answer at all.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    rng = random.Random(seed)
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(init_dir)
    model = AutoModelForCausalLM.from_pretrained(init_dir, dtype=torch.float32)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    answers, weights = list(choices), list(choices.values())
    for _ in range(steps):
        ids, labels = [], []
        for _ in range(32):
            prompt = tokenizer.apply_chat_template(
                build_prompt(f"Q{rng.randrange(100)}", system_prompt=None), add_generation_prompt=True, tokenize=False
            )
            p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            c = tokenizer(
                f"\\boxed{{{rng.choices(answers, weights)[0]}}}" + tokenizer.eos_token, add_special_tokens=False
            )["input_ids"]
            ids.append(p + c)
            labels.append([-100] * len(p) + c)
        width = max(map(len, ids))
        pad = tokenizer.pad_token_id
        batch = {
            "input_ids": torch.tensor([x + [pad] * (width - len(x)) for x in ids]),
            "attention_mask": torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids]),
            "labels": torch.tensor([y + [-100] * (width - len(y)) for y in labels]),
        }
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    return output_dir


def run_cli(main: Callable[[list[str]], int | None], argv: Sequence[str]) -> tuple[int | None, str]:
    """Run a command's ``main`` in-process (no fresh torch/TRL import): its exit code, returned or
    raised as SystemExit, and what it printed on stderr."""
    stderr = io.StringIO()
    with redirect_stderr(stderr), redirect_stdout(io.StringIO()):
        try:
            code = main(list(argv))
        except SystemExit as exit_:
            code = exit_.code
    return code, stderr.getvalue()


def cli_error(main: Callable[[list[str]], int | None], argv: Sequence[str], command: str) -> str:
    """The one error line of a command that must refuse ``argv`` with exit code 2."""
    code, stderr = run_cli(main, argv)
    lines = stderr.strip().splitlines()
    assert code == 2, stderr
    assert len(lines) == 1 and lines[0].startswith(f"ttrl-{command}: error: "), lines
    return lines[0]


def small_layouts():
    """Every (world size, rows per rank, num_generations) TRL accepts at small sizes: G divides W*B, G >= 2."""
    for world in (1, 2, 3, 4):
        for rows in range(1, 9):
            for group in range(2, 9):
                if (world * rows) % group == 0:
                    yield world, rows, group
