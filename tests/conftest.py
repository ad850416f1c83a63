"""Shared test set-up. Nothing here may reach a model hub."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import torch  # noqa: E402  (after the offline switches, before any model code)

# The test models are tiny: one thread is faster than several contending for two cores.
torch.set_num_threads(1)
