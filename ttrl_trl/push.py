"""``python -m ttrl_trl.push``: put a trained model (or LoRA adapter) on the Hub with its TTRL card.

Training with ``--push_to_hub`` already pushes at the end of the run. This command is for the
usual order of work: train, evaluate with ``ttrl-eval``, then publish the model together with
its evaluation summary, which goes into the model card's table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import torch

from ttrl_trl.model_card import EVAL_SUMMARY_FILE, point_quick_start, recorded_base_model, write_ttrl_model_card
from ttrl_trl.paths import missing_path_error


class PushError(ValueError):
    """A folder or an upload that cannot work; the message names the option and the fix."""


def prepare_folder(model_dir: Path, hub_model_id: str, eval_summary: Path | None, dataset_name: str | None) -> Path:
    """Copy the evaluation summary next to the weights and rewrite the card; returns the card path."""
    missing = missing_path_error(str(model_dir), "--model_dir", "the folder that ttrl_trl.train wrote")
    if missing or not model_dir.is_dir():
        raise PushError(
            missing or f"--model_dir {str(model_dir)!r} is not a folder; pass the folder that ttrl_trl.train wrote."
        )
    if not (model_dir / "config.json").is_file() and not (model_dir / "adapter_config.json").is_file():
        raise PushError(f"--model_dir {str(model_dir)!r} holds neither a model (config.json) nor a LoRA adapter.")
    args_file = model_dir / "training_args.bin"
    if not args_file.is_file():
        raise PushError(
            f"--model_dir {str(model_dir)!r} has no training_args.bin; pass the folder that ttrl_trl.train wrote."
        )
    if eval_summary is not None and not eval_summary.is_file():
        raise PushError(f"--eval_summary {str(eval_summary)!r} does not exist; pass the summary.json of ttrl-eval.")
    args: Any = torch.load(args_file, weights_only=False)
    args.output_dir = str(model_dir)
    if eval_summary is not None:
        summary = json.loads(eval_summary.read_text())
        shutil.copyfile(eval_summary, model_dir / EVAL_SUMMARY_FILE)
        dataset_name = dataset_name or summary.get("dataset")
    card = write_ttrl_model_card(args, base_model=recorded_base_model(model_dir), dataset_name=dataset_name)
    card.write_text(point_quick_start(card.read_text(), hub_model_id))
    return card


def upload(model_dir: Path, hub_model_id: str, private: bool) -> None:
    """Create the repo and upload the folder; any Hub or network failure becomes one PushError line."""
    from huggingface_hub import HfApi

    try:
        api = HfApi()
        api.create_repo(hub_model_id, private=private, exist_ok=True)
        api.upload_folder(
            repo_id=hub_model_id,
            folder_path=str(model_dir),
            ignore_patterns=["checkpoint-*", "*.pt", "*.bin", "optimizer*", "rng_state*"],
            commit_message="Upload TTRL model",
        )
    except Exception as err:  # offline, no token, no rights: httpx/hub errors with long tracebacks
        reason = (str(err).strip().splitlines() or [""])[0]
        raise PushError(
            f"could not push to {hub_model_id!r} ({type(err).__name__}: {reason}). Check the network and "
            f"`hf auth login`; the folder and its card are ready in {model_dir}."
        ) from err


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", type=Path, required=True, help="Folder written by ttrl_trl.train.")
    parser.add_argument("--hub_model_id", required=True, help="owner/name on the Hub.")
    parser.add_argument("--eval_summary", type=Path, help="summary.json from ttrl-eval, shown in the card.")
    parser.add_argument("--dataset_name", help="Dataset name for the card (default: the summary's).")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--dry_run", action="store_true", help="Prepare the folder and card, upload nothing.")
    args = parser.parse_args(argv)
    try:
        card = prepare_folder(args.model_dir, args.hub_model_id, args.eval_summary, args.dataset_name)
        print(f"model card: {card}")
        if args.dry_run:
            print(f"dry run: nothing uploaded; {args.model_dir} is ready for {args.hub_model_id}")
            return
        upload(args.model_dir, args.hub_model_id, args.private)
    except PushError as err:
        print(f"ttrl-push: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"pushed to https://huggingface.co/{args.hub_model_id}")


if __name__ == "__main__":
    main()
