"""A CLIP tokenizer whose vocabulary is a fixed list of whole words, built offline.

CLIP's tokenizer is byte-pair encoding: a word starts as its characters (the last one
marked with ``</w>``) and merges glue neighbours together in rank order. For every word we
add the merges that glue it, left to right, into one token, so each known word is exactly
one token. Characters never seen in any word become ``<|endoftext|>`` (CLIP's unknown token);
an unknown word made of known letters falls apart into pieces the model never trained on.
"""

import json
from collections.abc import Iterable
from itertools import pairwise
from pathlib import Path

from transformers import CLIPTokenizer

SPECIAL_TOKENS = ["<|startoftext|>", "<|endoftext|>"]
END_OF_WORD = "</w>"


def build_word_tokenizer(
    words: Iterable[str], folder: Path, max_length: int = 16, first_id: int = 0
) -> CLIPTokenizer:
    """Write a whole-word CLIP tokenizer for `words` into `folder` and load it back.

    `max_length` is the padded prompt length the pipeline uses (the text encoder's
    `max_position_embeddings` must be at least this). `first_id` is the id of the first
    special token; the ids below it are unused (OWLv2 reads a text whose first id is 0 as
    padding).
    """
    vocab = {f"<|unused{index}|>": index for index in range(first_id)}
    vocab.update({token: first_id + index for index, token in enumerate(SPECIAL_TOKENS)})
    merges: list[tuple[str, str]] = []
    for word in sorted({word.lower() for word in words}):
        if not word.isalpha() or not word.isascii():
            raise ValueError(f"Vocabulary words must be plain ASCII letters, got {word!r}.")
        pieces = _apply_merges(_characters(word), merges)
        for piece in pieces:
            vocab.setdefault(piece, len(vocab))
        while len(pieces) > 1:  # the newest merge ranks last, so it only ever shortens
            merges.append((pieces[0], pieces[1]))
            vocab.setdefault(pieces[0] + pieces[1], len(vocab))
            pieces = _apply_merges(_characters(word), merges)

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, indent=1))
    merge_lines = ["#version: 0.2", *(f"{left} {right}" for left, right in merges)]
    (folder / "merges.txt").write_text("\n".join(merge_lines) + "\n")
    tokenizer = CLIPTokenizer(
        vocab=str(folder / "vocab.json"),
        merges=str(folder / "merges.txt"),
        model_max_length=max_length,
    )
    tokenizer.save_pretrained(folder)
    return CLIPTokenizer.from_pretrained(folder)


def _characters(word: str) -> list[str]:
    """A word as BPE first sees it: its characters, the last one marked as the word's end."""
    return [*word[:-1], word[-1] + END_OF_WORD]


def _apply_merges(pieces: list[str], merges: list[tuple[str, str]]) -> list[str]:
    """Run byte-pair encoding as CLIP's tokenizer does: repeatedly glue every occurrence of
    the adjacent pair with the best-ranked merge ("vivid": v+i glues both "vi" at once)."""
    ranks = {pair: rank for rank, pair in enumerate(merges)}
    while len(pieces) > 1:
        best = min(pairwise(pieces), key=lambda pair: ranks.get(pair, len(ranks)))
        if best not in ranks:
            break
        glued, i = [], 0
        while i < len(pieces):
            if i + 1 < len(pieces) and (pieces[i], pieces[i + 1]) == best:
                glued.append(pieces[i] + pieces[i + 1])
                i += 2
            else:
                glued.append(pieces[i])
                i += 1
        pieces = glued
    return pieces
