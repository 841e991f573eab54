"""``python -m ttrl_trl.push``: put a trained model (or LoRA adapter) on the Hub with its TTRL card.

Training with ``--push_to_hub`` ends with this same push (:func:`publish`), once the model is saved.
This command is for the usual order of work: train, evaluate with ``ttrl-eval``, then publish the
model together with its evaluation summary, which goes into the model card's table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import torch

from ttrl_trl.model_card import EVAL_SUMMARY_FILE, write_ttrl_model_card
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
        try:
            json.loads(eval_summary.read_text())
        except json.JSONDecodeError as err:
            raise PushError(
                f"--eval_summary {str(eval_summary)!r} is not JSON ({err.msg} at line {err.lineno}); pass the "
                f"summary.json of ttrl-eval."
            ) from err
        if eval_summary.resolve() != (model_dir / EVAL_SUMMARY_FILE).resolve():
            shutil.copyfile(eval_summary, model_dir / EVAL_SUMMARY_FILE)
    # The card names the data trained on (ttrl_run.json), never the evaluation's: that one has its own table.
    return write_ttrl_model_card(args, dataset_name=dataset_name, hub_model_id=hub_model_id)


def upload(model_dir: Path, hub_model_id: str, private: bool, token: str | None = None) -> None:
    """Create the repo and upload the folder; any Hub or network failure becomes one PushError line."""
    from huggingface_hub import HfApi

    try:
        api = HfApi(token=token)
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


def publish(
    model_dir: Path,
    hub_model_id: str,
    private: bool = False,
    eval_summary: Path | None = None,
    dataset_name: str | None = None,
    token: str | None = None,
) -> str:
    """Prepare the folder's card and upload it; returns the model's Hub URL (raises PushError in one line)."""
    prepare_folder(Path(model_dir), hub_model_id, eval_summary, dataset_name)
    upload(Path(model_dir), hub_model_id, private, token)
    return f"https://huggingface.co/{hub_model_id}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", type=Path, required=True, help="Folder written by ttrl_trl.train.")
    parser.add_argument("--hub_model_id", required=True, help="owner/name on the Hub.")
    parser.add_argument("--eval_summary", type=Path, help="summary.json from ttrl-eval, shown in the card.")
    parser.add_argument(
        "--dataset_name", help="Data trained on, for a folder without ttrl_run.json (default: ttrl_run.json's)."
    )
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
