"""Per-run checkpoints: a JSON state written atomically after every generation, and once the run's result
file is written, a marker that the run finished (docs/architecture.md, "When a result is current")."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from ktnas._fingerprint import mismatch, set_aside
from ktnas._io import KtnasError, write_text

log = logging.getLogger(__name__)


class Checkpointer:
    """Saves and restores a run's JSON state. ``fingerprint`` names the run (space, method, seed, tasks,
    parameters, run-time settings) and the code that runs it (:func:`ktnas._fingerprint.code_record`): a
    checkpoint with another fingerprint is set aside as ``<name>.stale``, never resumed."""

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
            set_aside(self.path, mismatch(blob.get("fingerprint") or {}, self.fingerprint), self.directory)
            return None
        if "state" not in blob:  # a finished marker whose result file was changed or removed: run again
            return None
        log.info("resuming from %s (generation %s)", self.path, blob["state"].get("generation"))
        state: dict[str, Any] = blob["state"]
        return state

    def save(self, state: dict[str, Any]) -> None:
        if self.path is not None:
            write_text(self.path, json.dumps({"fingerprint": self.fingerprint, "state": state}))

    def finish(self, result: str | Path) -> None:
        """Replace the state by a marker that the run finished and wrote ``result`` (its SHA-256)."""
        if self.path is None:
            return
        done = {"file": Path(result).name, "sha256": _sha256(Path(result))}
        write_text(self.path, json.dumps({"fingerprint": self.fingerprint, "finished": done}))
        self._clear_directory()

    def finished(self, result: str | Path) -> bool:
        """Whether this checkpoint is the marker of this run (same fingerprint) having written ``result``,
        unchanged since: a job killed after some of its seeds keeps those seeds' results."""
        if self.path is None or not self.path.exists() or not Path(result).exists():
            return False
        try:
            blob = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError):
            return False
        done = blob.get("finished") or {}
        return (
            blob.get("fingerprint") == self.fingerprint
            and done.get("file") == Path(result).name
            and done.get("sha256") == _sha256(Path(result))
        )

    def clear(self) -> None:
        if self.path is None:
            return
        self.path.unlink(missing_ok=True)
        self._clear_directory()

    def _clear_directory(self) -> None:
        if self.directory is not None and self.directory.exists():
            for f in self.directory.iterdir():
                f.unlink()
            self.directory.rmdir()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
