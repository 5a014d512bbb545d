"""Per-run checkpoints: a JSON state written atomically after every generation (issue: resume)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ktnas._io import KtnasError, write_text

log = logging.getLogger(__name__)


class Checkpointer:
    """Saves and restores a run's JSON state; ``fingerprint`` guards against resuming another config."""

    def __init__(self, path: str | Path | None, fingerprint: dict[str, Any]) -> None:
        self.path = Path(path) if path is not None else None
        self.fingerprint = json.loads(json.dumps(fingerprint, sort_keys=True))

    @property
    def directory(self) -> Path | None:
        """Folder for bulky side files (e.g. supernet weights) that belong to this checkpoint."""
        return None if self.path is None else self.path.with_suffix(".d")

    def load(self) -> dict[str, Any] | None:
        if self.path is None or not self.path.exists():
            return None
        try:
            blob = json.loads(self.path.read_text())
        except json.JSONDecodeError as err:
            raise KtnasError(
                f"{self.path}: corrupt checkpoint ({err}); delete it to restart this run from scratch"
            ) from None
        if blob.get("fingerprint") != self.fingerprint:
            log.warning("%s was written by another configuration; starting from scratch", self.path)
            return None
        log.info("resuming from %s (generation %s)", self.path, blob["state"].get("generation"))
        state: dict[str, Any] = blob["state"]
        return state

    def save(self, state: dict[str, Any]) -> None:
        if self.path is not None:
            write_text(self.path, json.dumps({"fingerprint": self.fingerprint, "state": state}))

    def clear(self) -> None:
        if self.path is None:
            return
        self.path.unlink(missing_ok=True)
        if self.directory is not None and self.directory.exists():
            for f in self.directory.iterdir():
                f.unlink()
            self.directory.rmdir()
