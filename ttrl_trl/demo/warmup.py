"""Warm-up: teach a tiny random model the scratchpad procedure, from *noisy* worked solutions.

A plain supervised loop, kept short so it reads as a teaching example: every step draws a batch
of training pairs, writes each as the chat the model will later see (user: ``47+38=``,
assistant: the scratchpad, then ``<|im_end|>``), draws fresh noise for the scratchpad, and
minimises the cross-entropy on the assistant tokens only. The noise (each step off by one with
probability ``eps``) leaves the model right *most* of the time on unseen pairs, not always:
the starting point TTRL needs.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer

from ttrl_trl.data import build_prompt
from ttrl_trl.demo.task import problem_text, solution_text


def encode_batch(tokenizer, pairs, eps: float, rng: random.Random) -> dict[str, torch.Tensor]:
    """Token ids of prompt + noisy solution, with labels (-100 on the prompt and the padding)."""
    ids, labels = [], []
    for a, b in pairs:
        prompt = tokenizer.apply_chat_template(
            build_prompt(problem_text(a, b), system_prompt=None), add_generation_prompt=True, tokenize=False
        )
        completion = solution_text(a, b, eps, rng) + tokenizer.eos_token
        p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        c = tokenizer(completion, add_special_tokens=False)["input_ids"]
        ids.append(p + c)
        labels.append([-100] * len(p) + c)
    width = max(map(len, ids))
    pad = tokenizer.pad_token_id
    return {
        "input_ids": torch.tensor([x + [pad] * (width - len(x)) for x in ids]),
        "attention_mask": torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids]),
        "labels": torch.tensor([y + [-100] * (width - len(y)) for y in labels]),
    }


def warm_up(
    init_dir: str | Path,
    output_dir: str | Path,
    train_pairs: list[tuple[int, int]],
    steps: int = 600,
    batch_size: int = 16,
    lr: float = 3e-3,
    eps: float = 0.25,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, float]:
    """Train the model in ``init_dir`` on noisy scratchpads; save it with its tokenizer to ``output_dir``.

    Returns ``{"loss": final loss, "seconds": wall time}``.
    """
    start = time.time()
    torch.manual_seed(seed)
    rng = random.Random(seed)
    tokenizer = AutoTokenizer.from_pretrained(init_dir)
    model = AutoModelForCausalLM.from_pretrained(init_dir, dtype=torch.float32)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)

    def lr_factor(step: int) -> float:  # linear ramp over the first 5 % of steps, cosine decay to 10 %
        ramp = min(1.0, (step + 1) / max(1, steps // 20))
        return ramp * (0.1 + 0.45 * (1 + math.cos(math.pi * step / steps)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    bar = tqdm(range(steps), desc="warm-up", disable=not progress)
    loss_ema = None
    for _ in bar:
        batch = encode_batch(tokenizer, rng.sample(train_pairs, batch_size), eps, rng)
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        loss_ema = loss.item() if loss_ema is None else 0.95 * loss_ema + 0.05 * loss.item()
        bar.set_postfix(loss=f"{loss_ema:.3f}")
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    return {"loss": float(loss_ema or 0.0), "seconds": time.time() - start}
