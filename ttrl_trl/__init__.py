"""ttrl-trl: Test-Time Reinforcement Learning (majority-vote pseudo-labels + GRPO) on TRL."""

__version__ = "0.1.0"
