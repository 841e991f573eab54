"""A clone needs nothing outside itself: the benchmark files ship in the package, no tracked file points
beside the repository, AIME 2025 maps to its Hub dataset, and what cannot load offline says so in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_cli

from ttrl_trl.data import BENCHMARK_DATA_DIR, BENCHMARKS, DatasetError, benchmark_file, load_problems

REPO = Path(__file__).resolve().parents[1]
TINY_RECIPE = REPO / "recipes" / "tiny" / "ttrl" / "aime24.yaml"
QWEN3_RECIPE = REPO / "recipes" / "Qwen3-4B-Base" / "ttrl" / "aime24.yaml"
CPU = ["--use_cpu", "true", "--bf16", "false", "--use_vllm", "false"]  # a GPU recipe's checks on this CPU
SHIPPED = {"aime24": 30, "amc": 83, "math500": 500}
AIME25_ROWS = [  # the TTRL layout; made-up problems (AIME 2025 itself is not shipped: no licence)
    {"prompt": "Find $2+3$.", "answer": "5", "source": "aime", "id": "aime25-I-1"},
    {"prompt": "Find $7 \\times 6$.", "answer": "42", "source": "aime", "id": "aime25-I-2"},
]


def _outside_path() -> str:
    return "." + "./" + "shared"  # built from parts, so this file does not name it


def test_no_tracked_file_points_outside_the_repository() -> None:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
    )  # fmt: skip
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    needle = _outside_path().encode()
    offenders = [
        name for name in listed.stdout.decode().split("\0")
        if name and (REPO / name).is_file() and needle in (REPO / name).read_bytes()
    ]  # fmt: skip
    assert offenders == [], f"these files name {_outside_path()!r}, which a user's clone does not have: {offenders}"


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_benchmark_names_read_the_shipped_official_files(name: str) -> None:
    path = benchmark_file(name)
    assert path == BENCHMARK_DATA_DIR / f"{name}.json" and path.is_file()
    rows = json.loads(path.read_text())
    problems = load_problems(name, require_answer=True)  # offline (conftest): no Hub, no data_dir
    assert len(problems) == len(rows) == SHIPPED[name]
    assert problems[0]["problem"] == rows[0]["prompt"] and problems[-1]["answer"] == str(rows[-1]["answer"])
    assert problems[0]["id"] == rows[0]["id"]


def test_the_shipped_files_carry_their_licence_and_origin() -> None:
    assert "MIT License" in (BENCHMARK_DATA_DIR / "LICENSE").read_text()
    notice = (BENCHMARK_DATA_DIR / "NOTICE").read_text()
    assert "https://github.com/PRIME-RL/TTRL" in notice
    assert sorted(p.name for p in BENCHMARK_DATA_DIR.glob("*.json")) == sorted(f"{n}.json" for n in SHIPPED)


def test_data_dir_overrides_the_shipped_file(tmp_path: Path) -> None:
    (tmp_path / "aime24.json").write_text(json.dumps(AIME25_ROWS))
    assert benchmark_file("aime24", tmp_path) == tmp_path / "aime24.json"
    assert len(load_problems("aime24", data_dir=tmp_path)) == 2
    assert len(load_problems("amc", data_dir=tmp_path)) == 83  # no amc.json there: the shipped one


def test_aime25_maps_to_its_hub_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    """math-ai/aime25's only split is test; its rows hold `problem`, `answer` (read as a string) and `id`."""
    from datasets import Dataset

    calls = []

    def fake_hub(path: str, split: str | None = None, **kwargs) -> Dataset:
        calls.append((path, split))
        return Dataset.from_list([{"problem": "Find $2+3$.", "answer": 5, "id": 0}])

    monkeypatch.setattr("ttrl_trl.data.load_dataset", fake_hub)
    bench = BENCHMARKS["aime25"]
    assert (bench.hub_id, bench.split, bench.shipped_path) == ("math-ai/aime25", "test", None)
    problems = load_problems("aime25", require_answer=True)
    assert calls == [("math-ai/aime25", "test")]
    assert problems[0]["problem"] == "Find $2+3$." and problems[0]["answer"] == "5"


def test_aime25_from_a_local_file_in_the_ttrl_layout(tmp_path: Path) -> None:
    (tmp_path / "aime25.json").write_text(json.dumps(AIME25_ROWS))
    by_path = load_problems(str(tmp_path / "aime25.json"), require_answer=True)
    by_name = load_problems("aime25", data_dir=tmp_path, require_answer=True)
    assert by_path.to_list() == by_name.to_list()
    assert [r["answer"] for r in by_name] == ["5", "42"] and by_name[1]["id"] == "aime25-I-2"


# ------------------------------------------------------------------------------------------ offline
@pytest.fixture
def empty_hub_cache(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This process's Hub and datasets caches pointed at an empty folder, whatever this machine has cached."""
    import datasets
    from huggingface_hub import constants

    cache = tmp_path_factory.mktemp("hf-cache")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache / "hub"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache / "datasets")
    assert constants.HF_HUB_OFFLINE and datasets.config.HF_HUB_OFFLINE  # conftest
    return cache


def _one_error_line(code: int | None, stderr: str, command: str) -> str:
    lines = stderr.strip().splitlines()
    assert code == 2, stderr
    assert len(lines) == 1 and lines[0].startswith(f"ttrl-{command}: error: "), lines
    return lines[0]


AIME25_NEEDLES = ("'aime25'", "'math-ai/aime25'", "not in the local cache", "HF_HUB_OFFLINE", "TTRL layout")
OFFLINE_MODEL_NEEDLES = ("'Qwen/Qwen3-4B-Base'", "not in the local Hugging Face cache", "HF_HUB_OFFLINE")


def test_aime25_offline_without_a_copy_fails_in_one_line(empty_hub_cache, tiny_model_path, tmp_path, monkeypatch):
    from ttrl_trl.evaluate import main as eval_main
    from ttrl_trl.train import main as train_main

    with pytest.raises(DatasetError, match="Download it once with network access"):  # the library call says the same
        load_problems("aime25")
    monkeypatch.chdir(tmp_path)
    runs = {
        "train": (train_main, ["--config", str(TINY_RECIPE), "--model_name_or_path", str(tiny_model_path)]),
        "eval": (eval_main, ["--model_name_or_path", str(tiny_model_path)]),
    }
    for command, (main, argv) in runs.items():
        line = _one_error_line(*run_cli(main, [*argv, "--dataset", "aime25", "--output_dir", "out"]), command)
        assert all(needle in line for needle in AIME25_NEEDLES), line
        assert list(tmp_path.iterdir()) == [], "nothing may be written"


def test_a_recipe_whose_model_is_not_cached_fails_offline_in_one_line(empty_hub_cache, tmp_path, monkeypatch):
    from ttrl_trl.train import main as train_main

    monkeypatch.chdir(tmp_path)
    line = _one_error_line(*run_cli(train_main, ["--config", str(QWEN3_RECIPE), *CPU, "--output_dir", "out"]), "train")
    assert all(needle in line for needle in OFFLINE_MODEL_NEEDLES), line
    assert list(tmp_path.iterdir()) == [], "nothing may be written"


@pytest.mark.slow
def test_offline_failures_in_fresh_processes(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """As a user runs them: an empty HF_HOME, HF_HUB_OFFLINE=1; nothing but the one line on stderr."""
    home = tmp_path_factory.mktemp("hf-home")
    env = {**os.environ, "HF_HOME": str(home), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env.pop("HF_HUB_CACHE", None), env.pop("HF_DATASETS_CACHE", None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    runs = {
        "train": (["ttrl_trl.train", "--config", str(QWEN3_RECIPE), *CPU], OFFLINE_MODEL_NEEDLES),
        "eval": (["ttrl_trl.evaluate", "--model_name_or_path", "outputs/tiny-model", "--dataset", "aime25"],
                 AIME25_NEEDLES),
    }  # fmt: skip
    (tmp_path / "outputs" / "tiny-model").mkdir(parents=True)  # a local folder: the dataset is what fails
    before = set(tmp_path.rglob("*"))
    for command, (argv, needles) in runs.items():
        proc = subprocess.run([sys.executable, "-m", *argv, "--output_dir", "out"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=180)  # fmt: skip
        line = _one_error_line(proc.returncode, proc.stderr, command)
        assert all(needle in line for needle in needles), line
    assert set(tmp_path.rglob("*")) == before, "nothing may be written"
