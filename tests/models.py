"""Tiny Hugging Face models the tests build and save themselves: random weights, offline tokenizers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

WORDS = "minerals Atlantis the of and Japan Britain cyber supply agreement 1999 . ,".split()
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]


def _tokenizer(vocabulary: list[str]):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {word: index for index, word in enumerate(vocabulary)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )


def _seq2seq(
    folder: Path, vocabulary: list[str], config_class: Any, model_class: Any, *, always: str, **ids: int
) -> Path:
    """Save a one-layer encoder-decoder whose every generated token is ``always``."""
    import torch

    config = config_class(
        vocab_size=len(vocabulary), d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=256,
        pad_token_id=0, eos_token_id=2, forced_eos_token_id=None, **ids,
    )  # fmt: skip
    torch.manual_seed(0)
    model = model_class(config)
    with torch.no_grad():
        model.final_logits_bias[0, vocabulary.index(always)] = 50.0
    return _save(folder, _tokenizer(vocabulary), model)


def _save(folder: Path, tokenizer: Any, model: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


def build_seq2seq(folder: Path, *, always: str) -> Path:
    """Save a one-layer BART whose every generated token is ``always``."""
    from transformers import BartConfig, BartForConditionalGeneration

    vocabulary = SPECIALS + WORDS
    return _seq2seq(
        folder, vocabulary, BartConfig, BartForConditionalGeneration, always=always, bos_token_id=1,
        decoder_start_token_id=2,
    )  # fmt: skip


def build_causal(folder: Path, *, always: str) -> Path:
    """Save a one-layer Llama whose logits are all zero, so greedy decoding always picks token 0: ``always``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    vocabulary = [always] + SPECIALS + [w for w in WORDS if w != always]
    tokenizer = _tokenizer(vocabulary)
    config = LlamaConfig(
        vocab_size=len(vocabulary), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=512, pad_token_id=1, bos_token_id=2, eos_token_id=3,
        tie_word_embeddings=False,
    )  # fmt: skip
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.lm_head.weight.zero_()
    return _save(folder, tokenizer, model)


def build_marian(folder: Path, *, always: str) -> Path:
    """Save a one-layer MarianMT translation model whose every generated token is ``always``."""
    from transformers import MarianConfig, MarianMTModel

    vocabulary = SPECIALS + WORDS + ["Brasil", "EUA", "o", "a", "de", "governo"]
    return _seq2seq(folder, vocabulary, MarianConfig, MarianMTModel, always=always, decoder_start_token_id=0)


def build_encoder(folder: Path) -> Path:
    """Save a one-layer BERT sentence encoder with random weights."""
    import torch
    from transformers import BertConfig, BertModel

    vocabulary = SPECIALS + WORDS
    config = BertConfig(
        vocab_size=len(vocabulary), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=64, pad_token_id=0,
    )  # fmt: skip
    torch.manual_seed(0)
    return _save(folder, _tokenizer(vocabulary), BertModel(config))
