"""GPU check: what TTRL costs on a model of Qwen2.5-Math-1.5B's shape, on one GPU, offline (issue 10, item 8).

A prepared measurement for the day a GPU is at hand: no network, no vLLM, one command, under 8 minutes
on one H100 / H200 (model init included). The model is randomly initialised from
``benchmarks/shapes/Qwen2.5-Math-1.5B.json`` (the published config.json values: same layers, widths,
heads and 151,936-row vocabulary, so the same FLOPs and memory), with a character tokenizer padded to that
vocabulary. bf16, sdpa, gradient checkpointing, transformers generation. Random weights rarely emit EOS, so
every completion is forced to exactly ``--max_new_tokens`` tokens (``min_new_tokens = max_new_tokens``):
every figure is per completion of that length.

Phases (same prompts and seed, so GRPO and TTRL sample the same token streams):

* ``grpo``: ``trl.GRPOTrainer`` with our vote reward on the trained group;
* ``ttrl``: ``TTRLTrainer``, ``n_votes_per_prompt == num_generations`` (TTRL's own machinery only);
* ``ttrl_2x``: ``TTRLTrainer`` voting on twice the trained completions (the paper's 64 -> 32);
* ``lora``: ``TTRLTrainer`` as ``ttrl`` with a peft LoRA adapter (the LoRA recipe's r=64, all linear layers).

Each phase reports its step times (TRL's ``step_time``, untimed warm-up steps dropped), the generation time
and generated tokens of its timed steps (every ``generate`` call, CUDA-synchronised), and peak GPU memory
(``torch.cuda.max_memory_allocated``, reset per phase). Writes ``<output_dir>/report.json`` after every
phase (a cut-off run still leaves its figures) and prints a table. Phases that would overrun
``--budget_s`` are skipped and listed.

    python benchmarks/gpu_check.py               # CUDA: the full shapes
    python benchmarks/gpu_check.py --cpu-smoke   # reduced shapes, seconds (automatic without CUDA; in the tests)
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch
from step_timing import median_step_time, paired_ratio
from transformers import AutoConfig, AutoModelForCausalLM, TrainerCallback
from trl import GRPOConfig, GRPOTrainer

from ttrl_trl.tiny import CPU_TRAINING_ARGS, build_char_tokenizer
from ttrl_trl.training.config import TTRLConfig
from ttrl_trl.training.rewards import majority_vote_reward
from ttrl_trl.training.trainer import TTRLTrainer
from ttrl_trl.vote.voting import majority_vote

SHAPE_CONFIG = Path(__file__).resolve().parent / "shapes" / "Qwen2.5-Math-1.5B.json"
GIB = 1024**3

# --cpu-smoke: the shipped config shrunk to a toy, so the same code path runs in the test suite in seconds.
SMOKE_SHAPE = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
               "num_key_value_heads": 2, "vocab_size": 256}  # fmt: skip
SMOKE_SETTINGS = {"prompts_per_step": 1, "num_generations": 2, "max_new_tokens": 4, "prompt_tokens": 16,
                  "steps": 1, "warmup": 1}  # fmt: skip
PHASES = ("grpo", "ttrl", "ttrl_2x", "ttrl_2x_one_call", "lora")
LORA = {"r": 64, "lora_alpha": 128, "lora_dropout": 0.0, "target_modules": "all-linear"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu-smoke", action="store_true", help="reduced shapes on the CPU (automatic without CUDA)")
    parser.add_argument("--prompts_per_step", type=int, default=2)
    parser.add_argument("--num_generations", type=int, default=8, help="trained completions per prompt")
    parser.add_argument("--max_new_tokens", type=int, default=512, help="every completion has exactly this length")
    parser.add_argument("--prompt_tokens", type=int, default=128, help="prompt length before the chat template")
    parser.add_argument("--steps", type=int, default=2, help="timed optimiser steps per phase")
    parser.add_argument("--warmup", type=int, default=1, help="untimed first steps per phase")
    parser.add_argument("--budget_s", type=float, default=450.0, help="skip phases that would end after this")
    parser.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated subset of {','.join(PHASES)}")
    parser.add_argument("--output_dir", type=Path, default=Path("outputs/gpu_check"))
    args = parser.parse_args(argv)
    args.device = "cuda" if torch.cuda.is_available() and not args.cpu_smoke else "cpu"
    if args.device == "cpu":
        if not args.cpu_smoke:
            print("no CUDA device: running the CPU smoke shapes (--cpu-smoke)", flush=True)
        args.cpu_smoke = True
        explicit = {a.split("=")[0].lstrip("-") for a in (argv if argv is not None else sys.argv[1:])}
        for name, value in SMOKE_SETTINGS.items():
            if name not in explicit:
                setattr(args, name, value)
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = sorted(set(args.phases) - set(PHASES))
    if unknown or not args.phases:
        parser.error(f"--phases: unknown {unknown or 'empty list'}; choose from {','.join(PHASES)}")
    for name in ("prompts_per_step", "num_generations", "max_new_tokens", "prompt_tokens", "steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    return args


class GenerationTimer(TrainerCallback):
    """Times every ``generate`` call of the policy and counts its new tokens, by optimiser step.

    Wraps the model's ``generate`` when training begins (TRL's transformers path calls it on the
    unwrapped model, the same object); the CUDA queue is drained before and after, so the time is
    the generation's own.
    """

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        generate = model.generate

        def timed_generate(*call_args: Any, **call_kwargs: Any) -> Any:
            _synchronize()
            start = time.perf_counter()
            output = generate(*call_args, **call_kwargs)
            _synchronize()
            prompt = call_kwargs["input_ids"] if "input_ids" in call_kwargs else call_args[0]
            rows, new = output.shape[0], output.shape[1] - prompt.shape[1]
            self.calls.append({"step": state.global_step, "s": time.perf_counter() - start, "rows": rows,
                               "tokens": rows * new})  # fmt: skip
            return output

        model.generate = timed_generate

    def summary(self, warmup: int) -> dict[str, Any]:
        timed = [c for c in self.calls if c["step"] >= warmup]
        steps = max(1, len({c["step"] for c in timed}))
        seconds, tokens = sum(c["s"] for c in timed), sum(c["tokens"] for c in timed)
        return {
            "generate_calls_per_step": len(timed) / steps,
            "rows_per_generate_call": max((c["rows"] for c in timed), default=0),
            "generation_s_per_step": seconds / steps,
            "generated_tokens_per_step": tokens / steps,
            "generated_tokens_per_s": tokens / seconds if seconds else None,
        }


def _synchronize() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def build_model(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Randomly initialise the shipped shape on the device (seconds, not minutes), save it, return its shape."""
    shape = json.loads(SHAPE_CONFIG.read_text())
    if args.cpu_smoke:
        shape.update(SMOKE_SHAPE)
    tokenizer = build_char_tokenizer(vocab_size=shape["vocab_size"])
    shape.update(eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=None)
    config = AutoConfig.for_model(**shape)
    torch.manual_seed(0)
    with torch.device(args.device):
        model = AutoModelForCausalLM.from_config(config, dtype=args.dtype, attn_implementation="sdpa")
    parameters = sum(p.numel() for p in model.parameters())
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    del model
    _free_memory()
    args.tokenizer = tokenizer
    keys = ("model_type", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "vocab_size", "tie_word_embeddings")  # fmt: skip
    return {"config": str(SHAPE_CONFIG.name), **{k: shape[k] for k in keys}, "parameters": parameters}


def write_problems(path: Path, count: int, prompt_tokens: int) -> Path:
    """Problems in the official TTRL layout, each exactly ``prompt_tokens`` characters (= tokens here)."""
    filler = " Show every step of the computation and check the result before answering."
    rows = []
    for i in range(count):
        text = f"Problem {i}: compute {17 * i + 3} + {29 * i + 5}." + filler * (prompt_tokens // len(filler) + 1)
        rows.append({"prompt": text[:prompt_tokens], "answer": str(46 * i + 8), "source": "synthetic", "id": str(i)})
    path.write_text(json.dumps(rows))
    return path


def _free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _gib(n_bytes: int) -> float:
    return round(n_bytes / GIB, 3)


def run_phase(trainer_cls: type, config_cls: type, extra: dict[str, Any], steps: int, args: argparse.Namespace,
              model_path: Path, problems: Path) -> dict[str, Any]:  # fmt: skip
    """One trainer run of ``args.warmup + steps`` steps: step times, generation time and tokens, peak memory."""
    _free_memory()
    cuda = args.device == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    memory_at_start = torch.cuda.memory_allocated() if cuda else 0
    timer = GenerationTimer()
    start = time.perf_counter()
    result = median_step_time(
        trainer_cls, config_cls, model_path, problems, steps, args.warmup, seed=0,
        training_args=args.training_args, processing_class=args.tokenizer, callbacks=[timer],
        per_device_train_batch_size=args.prompts_per_step * args.num_generations,
        num_generations=args.num_generations, max_completion_length=args.max_new_tokens,
        generation_kwargs={"min_new_tokens": args.max_new_tokens},
        model_init_kwargs={"dtype": str(args.dtype).removeprefix("torch."), "attn_implementation": "sdpa"},
        learning_rate=1e-6, beta=0.0, **extra,
    )  # fmt: skip
    lengths = [h["completions/mean_length"] for h in result["log_history"] if "completions/mean_length" in h]
    phase = {
        "step_times_s": result["times_s"],
        "median_step_s": result["median_s"],
        **timer.summary(args.warmup),
        "completion_mean_length": statistics.mean(lengths),
        "peak_memory_gib": _gib(torch.cuda.max_memory_allocated()) if cuda else None,
        "memory_at_start_gib": _gib(memory_at_start) if cuda else None,
        "wall_s": time.perf_counter() - start,
    }
    del result
    _free_memory()
    return phase


def phases(args: argparse.Namespace) -> dict[str, tuple[type, type, dict[str, Any], int]]:
    """Name -> (trainer, config, its settings, timed steps); the LoRA phase times a single step."""
    from peft import LoraConfig

    g, steps = args.num_generations, args.steps
    return {
        "grpo": (GRPOTrainer, GRPOConfig, {"reward_funcs": [majority_vote_reward]}, steps),
        "ttrl": (TTRLTrainer, TTRLConfig, {"n_votes_per_prompt": g}, steps),
        "ttrl_2x": (TTRLTrainer, TTRLConfig, {"n_votes_per_prompt": 2 * g}, steps),
        # Both vote rounds in one generate call: twice the rows (and KV cache) of the default's two calls.
        "ttrl_2x_one_call": (TTRLTrainer, TTRLConfig, {"n_votes_per_prompt": 2 * g, "vote_rounds_per_call": 2}, steps),
        "lora": (TTRLTrainer, TTRLConfig, {"n_votes_per_prompt": g,
                                           "peft_config": LoraConfig(task_type="CAUSAL_LM", **LORA)}, 1),
    }  # fmt: skip


def environment(args: argparse.Namespace) -> dict[str, Any]:
    cuda = args.device == "cuda"
    return {
        "mode": "cpu-smoke" if args.cpu_smoke else "gpu",
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "gpu_memory_gib": _gib(torch.cuda.get_device_properties(0).total_memory) if cuda else None,
        "cuda": torch.version.cuda,
        **{name: version(name) for name in ("torch", "transformers", "trl", "peft", "accelerate")},
    }


def ratios(results: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Paired step-time ratios (same seed, same token streams) between the phases that ran."""
    out = {}
    for key, (num, den) in {"ttrl_over_grpo": ("ttrl", "grpo"), "ttrl_2x_over_grpo": ("ttrl_2x", "grpo"),
                            "ttrl_2x_one_call_over_grpo": ("ttrl_2x_one_call", "grpo"),
                            "lora_over_ttrl": ("lora", "ttrl")}.items():  # fmt: skip
        if num in results and den in results:
            out[key] = paired_ratio([results[num]["step_times_s"]], [results[den]["step_times_s"]])
    return out


def print_table(report: dict[str, Any]) -> None:
    print(f"\n{report['environment']['device']} ({report['environment']['mode']}), "
          f"{report['shapes']['parameters']:,} parameters, {report['shapes']['max_new_tokens']} tokens "
          "per completion")  # fmt: skip
    print(f"{'phase':8s} {'step s':>8s} {'gen s':>8s} {'gen tok/s':>10s} {'rows/call':>9s} {'peak GiB':>9s}")
    for name, p in report["phases"].items():
        peak = f"{p['peak_memory_gib']:.1f}" if p["peak_memory_gib"] is not None else "-"
        tps = f"{p['generated_tokens_per_s']:.0f}" if p["generated_tokens_per_s"] else "-"
        print(f"{name:8s} {p['median_step_s']:8.2f} {p['generation_s_per_step']:8.2f} {tps:>10s} "
              f"{p['rows_per_generate_call']:9d} {peak:>9s}")  # fmt: skip
    for key, value in report["ratios"].items():
        print(f"step-time ratio {key}: {value:.3f}")
    if report["skipped"]:
        print(f"skipped (time budget): {', '.join(report['skipped'])}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    start = time.perf_counter()
    cuda = args.device == "cuda"
    args.dtype = torch.bfloat16 if cuda else torch.float32
    args.training_args = (
        {"bf16": True, "activation_checkpointing": True, "report_to": "none", "save_strategy": "no"}
        if cuda else {**CPU_TRAINING_ARGS, "activation_checkpointing": True}
    )  # fmt: skip
    report_path = args.output_dir / "report.json"
    args.output_dir.mkdir(parents=True, exist_ok=True)

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f} s] {message}", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        log(f"building a random model from {SHAPE_CONFIG.name} on {args.device}")
        shapes = build_model(Path(tmp) / "model", args)
        shapes.update({k: getattr(args, k) for k in ("prompts_per_step", "num_generations", "max_new_tokens",
                                                      "prompt_tokens", "steps", "warmup")})  # fmt: skip
        shapes.update(dtype=str(args.dtype).removeprefix("torch."), attn_implementation="sdpa",
                      gradient_checkpointing=True, lora=LORA)  # fmt: skip
        report: dict[str, Any] = {
            "environment": environment(args), "shapes": shapes, "model_init_s": time.perf_counter() - start,
            "phases": {}, "ratios": {}, "skipped": [],
        }  # fmt: skip
        log(f"model ready: {shapes['parameters']:,} parameters")
        problems = write_problems(Path(tmp) / "problems.json", 16, args.prompt_tokens)
        majority_vote(["\\boxed{1}"])  # start the grader's helper process outside the timed phases
        for name, (trainer_cls, config_cls, extra, steps) in phases(args).items():
            if name not in args.phases:
                continue
            elapsed = time.perf_counter() - start
            last = max((p["wall_s"] for p in report["phases"].values()), default=0.0)
            if elapsed + last > args.budget_s:
                log(f"skipping {name}: {elapsed:.0f} s spent, the longest phase took {last:.0f} s, budget {args.budget_s:.0f} s")
                report["skipped"].append(name)
                continue
            log(f"phase {name}: {args.warmup} + {steps} steps")
            phase = run_phase(trainer_cls, config_cls, extra, steps, args, Path(tmp) / "model", problems)
            report["phases"][name] = phase
            report["ratios"] = ratios(report["phases"])
            report["total_wall_s"] = time.perf_counter() - start
            report_path.write_text(json.dumps(report, indent=2))
            peak = "" if phase["peak_memory_gib"] is None else f", peak memory {phase['peak_memory_gib']:.1f} GiB"
            log(f"phase {name} done: median step {phase['median_step_s']:.2f} s{peak}")
    report["total_wall_s"] = time.perf_counter() - start
    report_path.write_text(json.dumps(report, indent=2))
    print_table(report)
    log(f"written to {report_path}")
    return report


if __name__ == "__main__":
    main()
