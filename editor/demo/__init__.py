"""The embedded demo model and the procedural world it is trained and judged on.

`world` draws scenes and edits with exact ground truth, `tokenizer` builds the model's
whole-word CLIP tokenizer, `train` trains the model (`python -m editor.demo.train`),
`quality` scores edits against the truth, and `model/` holds the shipped weights.
"""
