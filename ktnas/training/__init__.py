"""Training for the DARTS space (docs/method.md §5): weight-sharing supernet search and retraining.

Every module here imports torch; nothing outside ``ktnas.training`` does, so importing ktnas stays cheap.

- :mod:`ktnas.training.ops` — search ops (§5.1) and evaluation ops (§5.9)
- :mod:`ktnas.training.supernet` — the weight-sharing supernet (§5.3)
- :mod:`ktnas.training.network` — the retraining network (§5.9), :func:`count_params`
- :mod:`ktnas.training.data` — dataset registry, splits (§5.8), on-device batching/augmentation
- :mod:`ktnas.training.device` — CUDA/CPU helpers (mixed precision, channels_last)
- :mod:`ktnas.training.search_task` — :class:`WeightSharingTask`, one per task (§5.5–§5.7)
- :mod:`ktnas.training.retrain` — :func:`retrain` (§5.9) with per-epoch checkpoints
"""
