"""The `ttrl-eval` command line, generated from EvalConfig's fields; bad input exits 2 with one line."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ttrl_trl.data import DatasetError
from ttrl_trl.evaluation.config import EvalConfig, EvalConfigError
from ttrl_trl.evaluation.run import evaluate


def parse_args(argv: Sequence[str] | None = None) -> EvalConfig:
    """The command line, generated from EvalConfig's fields and help texts."""
    from transformers import HfArgumentParser

    (config,) = HfArgumentParser(EvalConfig).parse_args_into_dataclasses(args=argv)
    return config


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point: exit 0 on success, 2 with one clear message on a bad setting or dataset."""
    config = parse_args(argv)
    try:
        evaluate(config)
    except (EvalConfigError, DatasetError) as err:
        print(f"ttrl-eval: error: {err}", file=sys.stderr)
        return 2
    return 0
