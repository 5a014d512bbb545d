"""Device helpers: CUDA when present (mixed precision, channels_last), CPU otherwise."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import platform
import tempfile
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)


def pick_device(name: str | None = None) -> torch.device:
    """``name`` ("cpu", "cuda", "cuda:1") or, if None, CUDA when available else CPU.

    ``cuda:K`` is used as given. None or ``cuda`` claim a GPU of their own (:func:`claim_gpu`), so that N
    concurrent jobs on an N-GPU machine run on N different GPUs (docs/guide/gpus.md); the claim holds
    until the process exits, and every later call of the process returns the same device.
    """
    if name is None and not torch.cuda.is_available():
        return torch.device("cpu")
    dev = torch.device(name if name is not None else "cuda")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available; use device=None or 'cpu'")
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", claim_gpu(torch.cuda.device_count()))
    if dev.type == "cuda":
        torch.cuda.set_device(dev)  # per-device queries (bf16 support, streams) then ask this GPU
    return dev


#: this process's claim: (visible index, open lock file) — kept open so the lock lasts until exit
_CLAIM: tuple[int, int | None] | None = None


def gpu_lock_dir() -> Path:
    """Where GPU claims are kept: one folder per user in the system's temporary folder."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"ktnas-gpus-{uid}"


def claim_gpu(count: int, lock_dir: str | Path | None = None) -> int:
    """The index (among the visible GPUs) of a GPU no other ktnas process on this machine holds.

    With one visible GPU (a SLURM job with ``--gpus=1`` sees only its own), it is used without a claim.
    With more, the first free one is claimed with an exclusive ``flock`` on ``{lock_dir}/gpu{ID}.lock``,
    ``ID`` being the device's entry in ``CUDA_VISIBLE_DEVICES`` (its physical number or UUID) when that is
    set, else its index; the operating system releases the lock when the process exits, also when it
    crashes. When every GPU is held, the job shares GPU ``pid % count``
    and says so in a warning: more GPU jobs than GPUs were started (``--resources gpu=N`` above the count).
    """
    global _CLAIM
    if _CLAIM is not None:
        return _CLAIM[0]
    if count < 1:
        raise ValueError(f"claim_gpu needs at least one visible GPU, got count={count}")
    if count == 1:
        _CLAIM = (0, None)
        return 0
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    ids = visible[:count] if len(visible) >= count else [str(k) for k in range(count)]
    folder = Path(lock_dir) if lock_dir is not None else gpu_lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for k, ident in enumerate(ids):
        fd = os.open(folder / f"gpu{ident}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        _CLAIM = (k, fd)
        log.info("claimed GPU %d (%s) via %s", k, ident, folder)
        return k
    k = os.getpid() % count
    log.warning(
        "all %d GPUs are claimed by other ktnas jobs (more GPU jobs than GPUs: lower --resources gpu=N "
        "to the GPU count); sharing GPU %d",
        count,
        k,
    )
    _CLAIM = (k, None)
    return k


def release_gpu() -> None:
    """Give this process's GPU claim back before it exits (tests; long-lived processes)."""
    global _CLAIM
    if _CLAIM is not None and _CLAIM[1] is not None:
        os.close(_CLAIM[1])
    _CLAIM = None


def amp_dtype(device: torch.device, enabled: bool = True) -> torch.dtype | None:
    """bf16 on GPUs that support it, fp16 on older ones, None (full precision) on CPU or if disabled."""
    if not enabled or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    """Mixed-precision region when ``dtype`` is set, a no-op otherwise."""
    if dtype is None:
        yield
    else:
        with torch.autocast(device_type=device.type, dtype=dtype):
            yield


def grad_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler:
    """A loss scaler, active only for fp16 (bf16 and fp32 need none)."""
    return torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)


def prepare_model(model: nn.Module, device: torch.device, channels_last: bool = True) -> nn.Module:
    """Move ``model`` to ``device``; channels_last memory format on CUDA."""
    model = model.to(device)
    if device.type == "cuda" and channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def to_device(x: torch.Tensor, device: torch.device, channels_last: bool = False) -> torch.Tensor:
    """Copy ``x`` to ``device`` (pinned, non-blocking for CUDA)."""
    if device.type == "cuda":
        if x.device.type == "cpu":
            x = x.pin_memory()
        x = x.to(device, non_blocking=True)
        if channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x
    return x.to(device)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device) -> str:
    """The accelerator's name (CUDA) or the CPU's, for the search-cost record."""
    if device.type == "cuda":
        return str(torch.cuda.get_device_name(device))
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
