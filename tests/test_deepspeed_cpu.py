"""DeepSpeed ZeRO-2 with two CPU processes: the tiny recipe, through the real CLI, for 2 steps.

`accelerate launch --num_processes 2 --cpu` starts one process with accelerate 1.15, so the test
starts two with `torchrun` and hands accelerate the settings of `accelerate_configs/zero2.yaml` as
the environment variables `accelerate launch` would set. The recipe runs as is (`use_cpu: true`):
`TrainingArguments` then sets up gloo over both processes, and the trainer's `Accelerator` switches
to DeepSpeed (accelerate/state.py:974). Mixed precision is off (the tiny recipe is fp32).

Run alone: `pytest -m deepspeed`. Run as a script, this file is the per-rank probe: it wraps
`TTRLTrainer.train` to record what each rank really ran with, then calls `ttrl_trl.train.main`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
TINY_RECIPE = REPO / "recipes" / "tiny" / "ttrl" / "aime24.yaml"
ZERO2_CONFIG = REPO / "accelerate_configs" / "zero2.yaml"


def deepspeed_env(accelerate_config: Path) -> dict[str, str]:
    """The environment `accelerate launch --config_file <zero2.yaml>` gives each process (mixed precision off)."""
    config = yaml.safe_load(accelerate_config.read_text())
    assert config["distributed_type"] == "DEEPSPEED", accelerate_config
    ds = config["deepspeed_config"]
    return {
        "ACCELERATE_USE_DEEPSPEED": "true",
        "ACCELERATE_DEEPSPEED_ZERO_STAGE": str(ds["zero_stage"]),
        "ACCELERATE_DEEPSPEED_OFFLOAD_OPTIMIZER_DEVICE": str(ds["offload_optimizer_device"]),
        "ACCELERATE_DEEPSPEED_OFFLOAD_PARAM_DEVICE": str(ds["offload_param_device"]),
        "ACCELERATE_DEEPSPEED_ZERO3_INIT": str(ds["zero3_init_flag"]).lower(),
        "ACCELERATE_MIXED_PRECISION": "no",
    }


@pytest.mark.slow
@pytest.mark.deepspeed
def test_zero2_two_cpu_processes_train_two_steps(tiny_model_path, shared_data, tmp_path):
    pytest.importorskip("deepspeed", reason="DeepSpeed is not installed (CI installs only .[test])")
    out = tmp_path / "zero2"
    env = {
        **os.environ,
        **deepspeed_env(ZERO2_CONFIG),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }
    cmd = [
        *(sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"),
        __file__,
        *("--config", str(TINY_RECIPE), "--model_name_or_path", str(tiny_model_path)),
        *("--dataset", str(shared_data / "aime24.json"), "--output_dir", str(out)),
        *("--max_steps", "2", "--save_strategy", "no"),
    ]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"torchrun failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"

    records = [json.loads((out / f"probe-rank{rank}.json").read_text()) for rank in (0, 1)]
    for rank, record in enumerate(records):
        assert record["rank"] == rank and record["world_size"] == 2 and record["dist_world_size"] == 2
        assert record["distributed_type"] == "DEEPSPEED"
        assert record["engine"] == "DeepSpeedEngine" and record["zero_stage"] == 2
        assert record["optimizer"] == "DeepSpeedZeroOptimizer"
        assert record["global_step"] == 2
        assert record["weights_after"] != record["weights_before"], "the optimizer never updated the weights"
    # ZeRO-2 shards optimizer states and gradients but keeps the weights replicated: both ranks must agree.
    assert records[0]["weights_after"] == records[1]["weights_after"]
    assert (out / "model.safetensors").is_file()


def _weights_checksum(model) -> float:
    import torch

    with torch.no_grad():
        return float(sum(p.detach().double().abs().sum() for p in model.parameters()))


def _probe(argv: list[str]) -> None:
    """Run the CLI on this rank and write what it really ran with to ``<output_dir>/probe-rank<r>.json``."""
    import torch

    from ttrl_trl.train import main
    from ttrl_trl.training import trainer as trainer_module

    original_train = trainer_module.TTRLTrainer.train

    def train(self, *args, **kwargs):
        before = _weights_checksum(self.model)
        result = original_train(self, *args, **kwargs)
        engine = self.model_wrapped
        record = {
            "rank": self.accelerator.process_index,
            "world_size": self.accelerator.num_processes,
            "dist_world_size": torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1,
            "distributed_type": self.accelerator.distributed_type.value,
            "engine": type(engine).__name__,
            "zero_stage": engine.zero_optimization_stage() if self.is_deepspeed_enabled else None,
            "optimizer": type(getattr(engine, "optimizer", None)).__name__,
            "global_step": self.state.global_step,
            "weights_before": before,
            "weights_after": _weights_checksum(self.model),
        }
        path = Path(self.args.output_dir) / f"probe-rank{record['rank']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record))
        return result

    trainer_module.TTRLTrainer.train = train
    main(argv)


if __name__ == "__main__":
    _probe(sys.argv[1:])
