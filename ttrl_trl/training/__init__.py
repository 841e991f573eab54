"""The trainer: ``TTRLConfig``, ``TTRLTrainer`` (a ``GRPOTrainer`` subclass), Trust Region Masking, callbacks."""
