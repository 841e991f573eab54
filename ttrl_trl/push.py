"""``python -m ttrl_trl.push``: put a trained model (or LoRA adapter) on the Hub with its TTRL card.

Training with ``--push_to_hub`` already pushes at the end of the run. This command is for the
usual order of work: train, evaluate with ``ttrl-eval``, then publish the model together with
its evaluation summary, which goes into the model card's table.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

import torch

from ttrl_trl.model_card import EVAL_SUMMARY_FILE, write_ttrl_model_card


def prepare_folder(model_dir: Path, eval_summary: Path | None, dataset_name: str | None) -> Path:
    """Copy the evaluation summary next to the weights and rewrite the card; returns the card path."""
    if not (model_dir / "config.json").is_file() and not (model_dir / "adapter_config.json").is_file():
        raise SystemExit(f"error: {model_dir} holds neither a model (config.json) nor a LoRA adapter.")
    args_file = model_dir / "training_args.bin"
    if not args_file.is_file():
        raise SystemExit(f"error: {model_dir} has no training_args.bin; pass the folder that ttrl_trl.train wrote.")
    args: Any = torch.load(args_file, weights_only=False)
    args.output_dir = str(model_dir)
    if eval_summary is not None:
        summary = json.loads(eval_summary.read_text())
        shutil.copyfile(eval_summary, model_dir / EVAL_SUMMARY_FILE)
        dataset_name = dataset_name or summary.get("dataset")
    config_file = model_dir / ("adapter_config.json" if (model_dir / "adapter_config.json").is_file() else "config.json")
    config = json.loads(config_file.read_text())
    base_model = config.get("base_model_name_or_path") or config.get("_name_or_path")
    return write_ttrl_model_card(args, base_model=base_model, dataset_name=dataset_name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model_dir", type=Path, required=True, help="Folder written by ttrl_trl.train.")
    parser.add_argument("--hub_model_id", required=True, help="owner/name on the Hub.")
    parser.add_argument("--eval_summary", type=Path, help="summary.json from ttrl-eval, shown in the card.")
    parser.add_argument("--dataset_name", help="Dataset name for the card (default: the summary's).")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--dry_run", action="store_true", help="Prepare the folder and card, upload nothing.")
    args = parser.parse_args(argv)
    card = prepare_folder(args.model_dir, args.eval_summary, args.dataset_name)
    print(f"model card: {card}")
    if args.dry_run:
        return
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(args.hub_model_id, private=args.private, exist_ok=True)
    api.upload_folder(
        repo_id=args.hub_model_id,
        folder_path=str(args.model_dir),
        ignore_patterns=["checkpoint-*", "*.pt", "*.bin", "optimizer*", "rng_state*"],
        commit_message="Upload TTRL model",
    )
    print(f"pushed to https://huggingface.co/{args.hub_model_id}")


if __name__ == "__main__":
    main()
