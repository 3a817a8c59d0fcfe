"""Distillation: the day's evidence, its deterministic scorer, replays of past tasks and the SFT export."""
