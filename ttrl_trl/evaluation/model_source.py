"""Where the weights come from (a model, or a LoRA adapter on its base) and which backend generates."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from ttrl_trl.evaluation.errors import check
from ttrl_trl.paths import looks_local


@dataclass(frozen=True)
class ModelSource:
    """Where the weights come from: a base model, plus a LoRA adapter folder when there is one."""

    base: str
    adapter: str | None = None
    lora_rank: int | None = None

    @property
    def tokenizer(self) -> str:
        """The adapter folder's tokenizer if it saved one (it may have added tokens), else the base's."""
        if self.adapter and (Path(self.adapter) / "tokenizer_config.json").is_file():
            return self.adapter
        return self.base


def resolve_model(model_name_or_path: str) -> ModelSource:
    """A local folder with adapter_config.json is a LoRA adapter on top of its recorded base model."""
    path = Path(model_name_or_path).expanduser()
    is_local = looks_local(model_name_or_path) or path.exists()
    check(
        not is_local or path.is_dir(),
        f"model_name_or_path={model_name_or_path!r} is not a folder; pass a saved model/adapter folder or a Hub id.",
    )
    adapter_config = path / "adapter_config.json"
    if not adapter_config.is_file():
        return ModelSource(base=str(path) if is_local else model_name_or_path)
    settings = json.loads(adapter_config.read_text(encoding="utf-8"))
    base = settings.get("base_model_name_or_path")
    check(
        bool(base),
        f"{adapter_config} has no base_model_name_or_path; set it to the base model's Hub id or folder.",
    )
    return ModelSource(base=base, adapter=str(path), lora_rank=settings.get("r"))


def resolve_backend(requested: str) -> str:
    """auto: vLLM when it is installed and a GPU is there, else batched transformers generation."""
    has_vllm = importlib.util.find_spec("vllm") is not None
    if requested == "transformers":
        return requested
    import torch

    has_cuda = torch.cuda.is_available()
    if requested == "vllm":
        check(
            has_vllm,
            "backend='vllm' but vLLM is not installed; `pip install -e .[vllm]` or pass `--backend transformers`.",
        )
        check(has_cuda, "backend='vllm' needs a CUDA GPU; pass `--backend transformers` to run on CPU.")
        return requested
    return "vllm" if has_vllm and has_cuda else "transformers"
