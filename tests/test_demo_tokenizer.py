"""The demo model's whole-word tokenizer."""

from transformers import CLIPTokenizer

from editor.demo.tokenizer import build_word_tokenizer

WORDS = ["make", "the", "circle", "square", "blue", "cyan", "background", "remove", "a"]


def test_every_word_is_one_token_whatever_the_case_and_spacing(tmp_path):
    tokenizer = build_word_tokenizer(WORDS, tmp_path)

    tokens = tokenizer.tokenize("Make  the CIRCLE cyan")

    assert tokens == ["make</w>", "the</w>", "circle</w>", "cyan</w>"]


def test_words_get_distinct_ids_and_unknown_characters_become_unknown(tmp_path):
    tokenizer = build_word_tokenizer(WORDS, tmp_path)

    word_ids = [tokenizer.convert_tokens_to_ids(word + "</w>") for word in WORDS]
    unknown_ids = tokenizer("42 %")["input_ids"][1:-1]

    assert len(set(word_ids)) == len(WORDS)
    assert tokenizer.unk_token_id not in word_ids
    assert unknown_ids == [tokenizer.unk_token_id] * 3


def test_the_folder_holds_the_bpe_files_and_loads_back_padded(tmp_path):
    build_word_tokenizer(WORDS, tmp_path, max_length=8)

    tokenizer = CLIPTokenizer.from_pretrained(tmp_path)
    ids = tokenizer("remove the square", padding="max_length", truncation=True).input_ids

    assert {"vocab.json", "merges.txt"} <= {path.name for path in tmp_path.iterdir()}
    assert len(ids) == 8
    assert tokenizer.convert_ids_to_tokens(ids[:5]) == [
        "<|startoftext|>", "remove</w>", "the</w>", "square</w>", "<|endoftext|>",
    ]
