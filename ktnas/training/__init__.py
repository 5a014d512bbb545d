"""Training for the DARTS space (docs/reproduction.md §3.3): weight-sharing supernet search and retraining.

Every module here imports torch; nothing outside ``ktnas.training`` does, so importing ktnas stays cheap.

- :mod:`ktnas.training.ops` — search ops (§3.3.1) and evaluation ops (§3.3.9)
- :mod:`ktnas.training.supernet` — the weight-sharing supernet (§3.3.3)
- :mod:`ktnas.training.network` — the retraining network (§3.3.9), :func:`count_params`
- :mod:`ktnas.training.data` — dataset registry, splits (§3.3.8), on-device batching/augmentation
- :mod:`ktnas.training.device` — CUDA/CPU helpers (mixed precision, channels_last)
- :mod:`ktnas.training.search_task` — :class:`WeightSharingTask`, one per task (§3.3.5–§3.3.7)
- :mod:`ktnas.training.retrain` — :func:`retrain` (§3.3.9) with per-epoch checkpoints
"""
