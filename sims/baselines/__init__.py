"""Pruning baselines run on one pre-trained checkpoint (one registry) and the fine-tuning stage."""
