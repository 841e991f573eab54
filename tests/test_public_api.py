"""The top-level API: every public name imports from ``ttrl_trl``, lazily, as TRL's top level does."""

import subprocess
import sys

import ttrl_trl


def test_every_public_name_resolves():
    for name in ttrl_trl.__all__:
        assert getattr(ttrl_trl, name) is not None, name
    for name in ("TTRLConfig", "TTRLTrainer", "majority_vote_reward", "majority_vote", "extract_answer",
                 "answers_equivalent", "is_correct", "trm_sequence_mask", "trm_error_bounds", "build_tiny_model",
                 "build_prompt", "CPU_TRAINING_ARGS"):  # fmt: skip
        assert name in ttrl_trl.__all__


def test_unknown_name_is_an_attribute_error():
    try:
        ttrl_trl.NotAThing  # noqa: B018
    except AttributeError as err:
        assert "NotAThing" in str(err)
    else:
        raise AssertionError("no AttributeError")


def test_import_is_lazy_and_the_vote_needs_no_torch():
    code = (
        "import sys, ttrl_trl; assert 'torch' not in sys.modules; "
        "from ttrl_trl import majority_vote; assert majority_vote(['\\\\boxed{2}', '\\\\boxed{2}']).label == '2'; "
        "from ttrl_trl import VoteSampler, FullVote, AdaptiveVote; "  # the vote sampler: no TRL, no torch
        "assert 'trl' not in sys.modules and 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
