"""A CLIP BPE tokenizer whose merges make every word of the shapes world a single token.

It is a real ``CLIPTokenizer`` (byte-level BPE): words outside the world still tokenize, byte by byte.
"""

from __future__ import annotations

from limner.tools.generators.tiny import byte_level_vocab

MAX_LENGTH = 32
WORDS = (
    "a an the of and photo image picture one two three four circle circles square squares triangle triangles "
    "red green blue yellow purple black left right above below to on top under"
).split()


def world_vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    vocab = byte_level_vocab()
    for special in ("<|startoftext|>", "<|endoftext|>"):
        del vocab[special]
    merges: list[tuple[str, str]] = []
    for word in WORDS:
        _chain(vocab, merges, list(word[:-1]) + [word[-1] + "</w>"])
    for token in ("<|startoftext|>", "<|endoftext|>"):
        vocab[token] = len(vocab)
    return vocab, merges


def _chain(vocab: dict[str, int], merges: list, pieces: list[str]) -> None:
    """Add merges that join ``pieces`` left to right into one token."""
    current = pieces[0]
    for nxt in pieces[1:]:
        if (current, nxt) not in merges:
            merges.append((current, nxt))
        current = current + nxt
        if current not in vocab:
            vocab[current] = len(vocab)


def world_tokenizer():
    """Build the tokenizer; words whose chains earlier merges break get chained from their actual pieces."""
    from transformers import CLIPTokenizer

    vocab, merges = world_vocab_and_merges()
    for _ in range(10):
        tok = CLIPTokenizer(vocab=dict(vocab), merges=list(merges), model_max_length=MAX_LENGTH)
        broken = [w for w in WORDS if len(tok(w, add_special_tokens=False).input_ids) != 1]
        if not broken:
            return tok
        end = vocab.pop("<|endoftext|>")
        start = vocab.pop("<|startoftext|>")
        for word in broken:
            _chain(vocab, merges, tok.convert_ids_to_tokens(tok(word, add_special_tokens=False).input_ids))
        vocab["<|startoftext|>"], vocab["<|endoftext|>"] = len(vocab), len(vocab) + 1
        del start, end
    raise RuntimeError(f"could not make single tokens of {broken}")
