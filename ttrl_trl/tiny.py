"""Tiny offline model and tokenizer, saved with ``save_pretrained``.

Nothing can be downloaded in CI, yet every code path (training, evaluation, the demo) must run
through the ordinary ``from_pretrained(path)`` loading code. This module builds a small
``Qwen2ForCausalLM`` and a character-level tokenizer with a ChatML template, entirely from code,
and writes them to a folder that behaves like a Hub checkpoint. (Qwen3, not Qwen2: transformers 5
forces its byte-level ``Qwen2Tokenizer`` on any ``qwen2`` checkpoint, which would drop our
character vocabulary's whitespace.)
"""

from __future__ import annotations

import string
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models
from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

PAD_TOKEN = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
UNK_TOKEN = "<unk>"
SPECIAL_TOKENS = [PAD_TOKEN, IM_START, IM_END, UNK_TOKEN]

# ChatML, as Qwen uses it, so prompts look like the real models' prompts.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{%- endif %}"
)


CPU_TRAINING_ARGS: dict[str, object] = {
    "use_cpu": True,
    "bf16": False,
    "activation_checkpointing": False,  # a tiny model: recomputing activations only costs time
    "report_to": "none",
    "save_strategy": "no",
}
"""Trainer arguments for short CPU runs of the tiny model (tests, benchmarks, the demo)."""


def build_char_tokenizer(extra_chars: str = "", vocab_size: int | None = None) -> PreTrainedTokenizerFast:
    """A character-level fast tokenizer: one token per printable ASCII character.

    BPE with an empty merge table splits text into single characters, and the ``Fuse`` decoder
    joins them back without spaces, so ``decode(encode(text)) == text`` for ASCII text.
    ``vocab_size`` pads the vocabulary with filler tokens ``<|f{i}|>`` up to that size, so a model
    of a real checkpoint's shape (e.g. Qwen's 151,936 rows) gets a tokenizer that can decode every
    id it samples; text never encodes to a filler.
    """
    chars = sorted(set(string.printable) | set(extra_chars))
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    for ch in chars:
        vocab.setdefault(ch, len(vocab))
    if vocab_size is not None:
        if vocab_size < len(vocab):
            raise ValueError(f"vocab_size ({vocab_size}) must be at least the {len(vocab)} characters and specials.")
        vocab.update({f"<|f{i}|>": i for i in range(len(vocab), vocab_size)})
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=UNK_TOKEN))
    backend.add_special_tokens(SPECIAL_TOKENS)
    backend.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD_TOKEN,
        eos_token=IM_END,
        unk_token=UNK_TOKEN,
        additional_special_tokens=[IM_START],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.padding_side = "left"
    return tokenizer


def build_tiny_model(
    output_dir: str | Path,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    intermediate_size: int | None = None,
    max_position_embeddings: int = 4096,
    seed: int = 0,
) -> Path:
    """Create and save a randomly initialised tiny Qwen2 model with its tokenizer.

    Returns the folder, which ``AutoModelForCausalLM.from_pretrained`` and
    ``AutoTokenizer.from_pretrained`` load like any Hub checkpoint.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = build_char_tokenizer()
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size or 2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=max(1, num_heads // 2),
        max_position_embeddings=max_position_embeddings,
        head_dim=hidden_size // num_heads,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, do_sample=True
    )
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    return output_dir


def main(argv: list[str] | None = None) -> None:
    """``python -m ttrl_trl.tiny --output_dir outputs/tiny-model``: build the offline tiny model."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--output_dir", default="outputs/tiny-model")
    parser.add_argument("--hidden_size", type=int, default=64)
    parser.add_argument("--num_layers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    path = build_tiny_model(args.output_dir, hidden_size=args.hidden_size, num_layers=args.num_layers, seed=args.seed)
    print(f"tiny model saved to {path}")


if __name__ == "__main__":
    main()
