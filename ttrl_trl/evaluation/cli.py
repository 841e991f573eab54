"""The `python -m ttrl_trl.evaluate` (`ttrl-eval`) command line, generated from EvalConfig's fields; bad input exits 2 with one line."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import fields

from ttrl_trl.data import DatasetError
from ttrl_trl.evaluation.config import EvalConfig
from ttrl_trl.evaluation.errors import EvalConfigError
from ttrl_trl.evaluation.resume import EvalInterrupted
from ttrl_trl.evaluation.run import evaluate
from ttrl_trl.options import unknown_option_message

PROG = "python -m ttrl_trl.evaluate"
"""The program name in usage and hints, as `python -m ttrl_trl.train` says its own (errors read `ttrl-eval:`)."""


def parse_args(argv: Sequence[str] | None = None) -> EvalConfig:
    """The command line, generated from EvalConfig's fields and help texts."""
    from transformers import HfArgumentParser

    config, unknown = HfArgumentParser(EvalConfig, prog=PROG).parse_args_into_dataclasses(
        args=argv, return_remaining_strings=True
    )
    if unknown:
        known = [f.name for f in fields(EvalConfig)]
        raise EvalConfigError(unknown_option_message(unknown, known, "the command line", f"{PROG} --help"))
    return config


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point: exit 0 on success, 2 with one clear message on a bad setting or dataset, 130 on Ctrl-C
    with one line saying what was kept."""
    try:
        evaluate(parse_args(argv))
    except (EvalConfigError, DatasetError) as err:
        print(f"ttrl-eval: error: {err}", file=sys.stderr)
        return 2
    except EvalInterrupted as err:
        print(f"\nttrl-eval: {err}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\nttrl-eval: interrupted before generation started; nothing was written.", file=sys.stderr)
        return 130
    return 0
