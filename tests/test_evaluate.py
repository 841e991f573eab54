"""End-to-end evaluation on the tiny offline model and the real AIME 2024 file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ttrl_trl.evaluate import EvalConfig, EvalConfigError, evaluate, main

METRICS = ("pass@1", "maj@2", "pass@2", "no_answer_rate")
SETTINGS = ("model", "dataset", "temperature", "top_p", "max_new_tokens", "seed", "backend")


def _argv(model: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--model_name_or_path", str(model), "--dataset", str(data), "--output_dir", str(out),
        "--max_problems", "3", "--num_samples", "2", "--max_new_tokens", "16", "--batch_size", "2",
        "--backend", "transformers", "--seed", "0", *extra,
    ]  # fmt: skip


def _read(out: Path) -> tuple[dict, list[dict]]:
    summary = json.loads((out / "summary.json").read_text())
    records = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    return summary, records


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny matmuls on a shared 2-core machine run many times faster on one thread than on two."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def sampled_run(tiny_model_path: Path, shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One sampled run (3 AIME problems, k=2, 16 new tokens) through the CLI, shared by several tests."""
    out = tmp_path_factory.mktemp("eval") / "aime24"
    assert main(_argv(tiny_model_path, shared_data / "aime24.json", out, "--pass_at", "1")) == 0
    return out


def test_sampled_run_writes_files_and_metrics(sampled_run: Path) -> None:
    summary, records = _read(sampled_run)
    for key in METRICS:
        assert 0.0 <= summary[key] <= 1.0, key
    assert summary["pass@2"] >= summary["pass@1"]
    assert summary["num_problems"] == 3 and summary["num_samples"] == 2
    assert all(key in summary for key in SETTINGS)
    assert summary["backend"] == "transformers" and summary["temperature"] == 0.6
    assert sorted(p.name for p in sampled_run.iterdir()) == ["generations.jsonl", "summary.json"]
    assert [r["id"] for r in records] == ["0", "1", "2"]
    assert records[0]["gold"] == "204"
    assert records[0]["prompt"][-1]["role"] == "user"
    for record in records:
        assert len(record["samples"]) == 2
        assert set(record["samples"][0]) == {"text", "answer", "correct"}
        assert {"label", "maj_correct", "problem"} <= set(record)


def test_greedy_mode(tiny_model_path: Path, shared_data: Path, tmp_path: Path) -> None:
    config = EvalConfig(
        model_name_or_path=str(tiny_model_path), dataset="aime24", data_dir=str(shared_data), max_problems=2,
        num_samples=1, temperature=0.0, max_new_tokens=8, backend="transformers", output_dir=str(tmp_path / "g"),
    )  # fmt: skip
    first, second = evaluate(config), evaluate(config)
    assert set(METRICS[:1]) | {"maj@1", "no_answer_rate"} <= set(first)
    assert first["num_samples"] == 1 and first["dataset"] == "aime24"
    _, records = _read(tmp_path / "g")
    assert len(records) == 2 and len(records[0]["samples"]) == 1
    assert first["pass@1"] == second["pass@1"]


def test_lora_adapter_folder(tiny_model_path: Path, shared_data: Path, tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_path)
    adapter = tmp_path / "adapter"
    get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])).save_pretrained(adapter)
    settings = json.loads((adapter / "adapter_config.json").read_text())
    settings["base_model_name_or_path"] = str(tiny_model_path)
    (adapter / "adapter_config.json").write_text(json.dumps(settings))

    out = tmp_path / "out"
    assert main(_argv(adapter, shared_data / "aime24.json", out, "--max_problems", "1")) == 0
    summary, _ = _read(out)
    assert summary["model"] == str(adapter) and summary["base_model"] == str(tiny_model_path)
    assert summary["num_problems"] == 1


def test_compare_prints_table(
    sampled_run: Path, tiny_model_path: Path, shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "after"
    argv = _argv(tiny_model_path, shared_data / "aime24.json", out, "--compare", str(sampled_run / "summary.json"))
    assert main(argv) == 0
    printed = capsys.readouterr().out
    header = next(line for line in printed.splitlines() if line.startswith("metric") and "delta" in line)
    assert header.split() == ["metric", "other", "this", "delta"]
    # Same seed and settings as the sampled run: every delta is zero.
    assert "+0.0000" in printed and "pass@1" in printed and "maj@2" in printed


def test_fake_generation_detects_correct_answer(shared_data: Path, tmp_path: Path) -> None:
    def fake_generate(prompts: list) -> list[list[str]]:
        first = ["The walk takes \\boxed{204} minutes."] * 2
        return [first] + [["no idea", "\\boxed{1}"] for _ in prompts[1:]]

    config = EvalConfig(
        model_name_or_path="fake", dataset=str(shared_data / "aime24.json"), max_problems=3, num_samples=2,
        output_dir=str(tmp_path / "fake"),
    )  # fmt: skip
    summary = evaluate(config, generate_fn=fake_generate)
    _, records = _read(tmp_path / "fake")
    assert records[0]["metrics"]["pass@1"] == 1.0 and records[0]["metrics"]["maj@2"] == 1.0
    assert records[0]["label"] == "204" and records[0]["maj_correct"] is True
    assert records[1]["metrics"]["pass@1"] == 0.0 and records[1]["metrics"]["no_answer_rate"] == 0.5
    assert summary["pass@1"] == pytest.approx(1 / 3) and summary["maj@2"] == pytest.approx(1 / 3)
    assert summary["no_answer_rate"] == pytest.approx(2 * 0.5 / 3)
    assert summary["backend"] == "custom"


def _assert_fails_cleanly(argv: list[str], out: Path, capsys: pytest.CaptureFixture, *needles: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # above it: only the datasets progress bar
    assert err.startswith("ttrl-eval: error:")
    for needle in needles:
        assert needle in err
    assert not out.exists() or not any(out.iterdir())


def test_missing_answer_column(tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "no_answer.json"
    data.write_text(json.dumps([{"prompt": "What is 1+1?", "id": "0"}]))
    out = tmp_path / "out"
    _assert_fails_cleanly(_argv(tiny_model_path, data, out), out, capsys, "answer column", "--answer_column")


def test_unknown_dataset(tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    argv = _argv(tiny_model_path, Path("aime2099"), out)
    _assert_fails_cleanly(argv, out, capsys, "Unknown dataset", "aime2099")


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--num_samples", "0"], "num_samples=0"),
        (["--pass_at", "4"], "pass_at=[4]"),
        (["--temperature", "0"], "temperature=0"),
        (["--compare", "nowhere/summary.json"], "compare="),
    ],
)
def test_bad_settings(
    extra: list[str], needle: str, tiny_model_path: Path, shared_data: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:  # fmt: skip
    out = tmp_path / "out"
    _assert_fails_cleanly(_argv(tiny_model_path, shared_data / "aime24.json", out, *extra), out, capsys, needle)


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="num_samples"):
        evaluate(EvalConfig(model_name_or_path="x", num_samples=0))
    assert issubclass(EvalConfigError, ValueError)


def test_interrupted_run_resumes_where_it_stopped(shared_data: Path, tmp_path: Path) -> None:
    """Each chunk is saved as it is scored; a rerun of the same command only generates the rest."""
    out = tmp_path / "resume"
    config = EvalConfig(
        model_name_or_path="fake",
        dataset=str(shared_data / "aime24.json"),
        max_problems=5,
        num_samples=2,
        batch_size=2,
        output_dir=str(out),
    )
    seen: list[str] = []

    def answer_with_gold(prompts):
        seen.extend(p[-1]["content"] for p in prompts)
        if len(seen) > 2:  # the second chunk never finishes
            raise KeyboardInterrupt
        return [["\\boxed{204}", "no answer"] for _ in prompts]

    with pytest.raises(KeyboardInterrupt):
        evaluate(config, generate_fn=answer_with_gold)
    assert not (out / "summary.json").exists()
    saved = (out / "generations.partial.jsonl").read_text().splitlines()
    assert len(saved) == 1 + 2  # header + the first chunk

    seen.clear()

    def finish(prompts):
        seen.extend(p[-1]["content"] for p in prompts)
        return [["\\boxed{204}", "no answer"] for _ in prompts]

    summary = evaluate(config, generate_fn=finish)
    assert len(seen) == 3  # only the three problems not saved before
    assert summary["num_problems"] == 5
    assert summary["pass@1"] == pytest.approx(0.5 / 5)  # problem 0 (gold 204): 1 of 2 samples right
    assert not (out / "generations.partial.jsonl").exists()
    assert len((out / "generations.jsonl").read_text().splitlines()) == 5


def _fake_config(shared_data: Path, out: Path, **overrides) -> EvalConfig:
    kwargs = dict(
        model_name_or_path="fake", dataset=str(shared_data / "aime24.json"), max_problems=5, num_samples=2,
        batch_size=2, output_dir=str(out),
    )  # fmt: skip
    return EvalConfig(**(kwargs | overrides))


def _interrupt_after_first_chunk(prompts: list) -> list[list[str]]:
    if _interrupt_after_first_chunk.calls:
        raise KeyboardInterrupt
    _interrupt_after_first_chunk.calls += 1
    return [["\\boxed{204}", "no answer"] for _ in prompts]


@pytest.mark.parametrize("option", ["none", "None", ""])
def test_system_prompt_none_sends_the_problem_alone(shared_data: Path, tmp_path: Path, option: str) -> None:
    seen: list = []

    def fake(prompts):
        seen.extend(prompts)
        return [["\\boxed{1}", "\\boxed{2}"] for _ in prompts]

    summary = evaluate(_fake_config(shared_data, tmp_path / "o", system_prompt=option), generate_fn=fake)
    assert all([m["role"] for m in p] == ["user"] for p in seen)
    assert summary["system_prompt"] is None


def test_ctrl_c_prints_one_line_with_what_was_kept(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import ttrl_trl.evaluation.run

    _interrupt_after_first_chunk.calls = 0
    monkeypatch.setattr(ttrl_trl.evaluation.run, "build_generate_fn", lambda *a: _interrupt_after_first_chunk)
    out = tmp_path / "o"
    argv = ["--model_name_or_path", "fake", "--dataset", str(shared_data / "aime24.json"), "--max_problems", "5",
            "--num_samples", "2", "--batch_size", "2", "--backend", "transformers", "--output_dir", str(out)]  # fmt: skip
    assert main(argv) == 130
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ttrl-eval")]
    assert err == [
        f"ttrl-eval: interrupted: 2 of 5 problems kept in {out / 'generations.partial.jsonl'}; "
        f"rerun the same command to resume."
    ]


def test_rerun_with_other_settings_keeps_the_partial_file(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "o"
    _interrupt_after_first_chunk.calls = 0
    with pytest.raises(KeyboardInterrupt):
        evaluate(_fake_config(shared_data, out), generate_fn=_interrupt_after_first_chunk)

    finish_calls: list = []

    def finish(prompts):
        finish_calls.extend(prompts)
        return [["\\boxed{204}", "no answer"] for _ in prompts]

    evaluate(_fake_config(shared_data, out, temperature=1.0), generate_fn=finish)  # other settings: a full run
    assert "temperature 0.6 -> 1.0" in capsys.readouterr().err
    kept = list(out.glob("generations.partial.*.jsonl"))
    assert len(kept) == 1 and len(kept[0].read_text().splitlines()) == 1 + 2
    assert len(finish_calls) == 5

    finish_calls.clear()
    summary = evaluate(_fake_config(shared_data, out), generate_fn=finish)  # the first settings again: resumes
    assert len(finish_calls) == 3 and summary["num_problems"] == 5
    assert not list(out.glob("generations.partial*"))


def test_compare_warns_on_different_settings(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    def fake(prompts):
        return [["\\boxed{204}", "no answer"] for _ in prompts]

    before = tmp_path / "before"
    evaluate(_fake_config(shared_data, before, temperature=1.0, max_new_tokens=64), generate_fn=fake)
    capsys.readouterr()
    evaluate(_fake_config(shared_data, tmp_path / "after", compare=str(before / "summary.json")), generate_fn=fake)
    captured = capsys.readouterr()
    warning = [line for line in captured.err.splitlines() if "warning" in line]
    assert len(warning) == 1
    assert "temperature 1.0 -> 0.6" in warning[0] and "max_new_tokens 64 -> 3072" in warning[0]
    assert "num_samples" not in warning[0]
    assert f"results: {tmp_path / 'after' / 'summary.json'}" in captured.out


def test_same_settings_compare_quietly(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    def fake(prompts):
        return [["\\boxed{204}", "no answer"] for _ in prompts]

    evaluate(_fake_config(shared_data, tmp_path / "a", system_prompt="none"), generate_fn=fake)
    evaluate(_fake_config(shared_data, tmp_path / "b", system_prompt="", compare=str(tmp_path / "a")), generate_fn=fake)
    assert "warning" not in capsys.readouterr().err
