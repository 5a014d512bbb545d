"""A DARTS-space task as the multi-task search sees it: weight-sharing training and fitness (docs/reproduction.md §3.3.5–§3.3.7).

:class:`DartsProblem` implements the :class:`~ktnas.search.problem.Problem` protocol around a
:class:`~ktnas.training.search_task.WeightSharingTask`. Every generation trains the task's supernet for one
epoch (each mini-batch activates one individual), then measures fitness with the shared weights; after
selection the task's best is evaluated on the whole validation split and the best seen is kept (§3.3.7).

Torch is imported only when weights are written or read, so importing this module stays cheap.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ktnas._io import KtnasError, atomic_path
from ktnas.search.problem import Problem
from ktnas.training.progress import duration, eta_seconds, write_metrics

if TYPE_CHECKING:
    from ktnas.training.search_task import WeightSharingTask

log = logging.getLogger(__name__)


class WallClock:
    """Wall-clock seconds of one search, carried across a resume (docs/reproduction.md §3.3.5: GPU days = wall time / 86,400).

    Time lost between the last checkpoint and a kill is not counted: a resumed run reports the time an
    uninterrupted run would have taken.
    """

    def __init__(self) -> None:
        self._offset = 0.0
        self._start = time.perf_counter()

    def elapsed(self) -> float:
        return self._offset + time.perf_counter() - self._start

    def restore(self, elapsed: float) -> None:
        self._offset = float(elapsed)
        self._start = time.perf_counter()


class DartsProblem(Problem):
    """One task of the DARTS-space search (docs/reproduction.md §2.5 with §3.3.5–§3.3.7). Fitness = accuracy (%).

    - ``evaluate_initial``: one epoch sampling from P, then evaluate P (generation 0).
    - ``evaluate_generation``: one epoch where each mini-batch activates, with probability
      ``parent_prob``, a uniform draw from P ∪ TP, otherwise one from O (§3.3.5 (a ktnas decision)); then evaluate O
      and, with ``reeval_parents`` (§3.3.6 (a ktnas decision)), re-evaluate P with the new shared weights.
    - ``end_generation``: the current best on the whole validation split; the best seen is kept with a
      copy of the supernet weights, used for the §3.3.10 (a) "supernet" test accuracy in :meth:`summary`.
    """

    def __init__(
        self,
        task: WeightSharingTask,
        *,
        parent_prob: float = 0.5,
        reeval_parents: bool = True,
        supernet_test: bool = True,
        clock: WallClock | None = None,
    ) -> None:
        if not 0.0 <= parent_prob <= 1.0:
            raise ValueError(f"parent_prob={parent_prob} must lie in [0, 1]")
        self.task = task
        self.name = task.name
        self.parent_prob = parent_prob
        self.reeval_parents = reeval_parents
        self.supernet_test = supernet_test
        self.clock = clock or WallClock()
        self.best_arch: str | None = None
        self.best_val_acc = float("-inf")
        self.best_generation = -1
        self.seconds = 0.0  # this task's compute: training, fitness and full-validation passes
        self.history: list[dict[str, Any]] = []
        self._best_weights: dict[str, Any] | None = None

    # -- Problem protocol -------------------------------------------------------------------------------
    def evaluate_initial(self, archs: Sequence[str]) -> list[float]:
        """Generation 0: train one epoch sampling from P, then the fitness of P (docs/reproduction.md §2.5, §3.3.5)."""
        start = time.perf_counter()
        stats = self.task.train_epoch(list(archs), 0)
        fitness = self.task.evaluate(archs)
        self._log_generation(stats, time.perf_counter() - start)
        return fitness

    def evaluate_generation(
        self,
        generation: int,
        parents: Sequence[str],
        transferred: Sequence[str],
        offspring: Sequence[str],
    ) -> tuple[list[float] | None, list[float]]:
        """Train one epoch on P ∪ TP ∪ O (§3.3.5 (a ktnas decision)); fitness of O, and of P if re-evaluated."""
        from ktnas.training.search_task import mixed_sampler

        start = time.perf_counter()
        sampler = mixed_sampler(list(parents) + list(transferred), list(offspring), self.parent_prob)
        stats = self.task.train_epoch(sampler, generation)
        kids = self.task.evaluate(offspring)
        parent_fit = self.task.evaluate(parents) if self.reeval_parents else None
        self._log_generation(stats, time.perf_counter() - start)
        return parent_fit, kids

    def end_generation(self, generation: int, best_arch: str) -> None:
        """docs/reproduction.md §3.3.7: the population's best on the whole validation split; keep the best seen."""
        start = time.perf_counter()
        acc = self.task.evaluate_full(best_arch)
        if acc > self.best_val_acc:
            self.best_arch, self.best_val_acc, self.best_generation = best_arch, acc, generation
            if self.supernet_test:
                self._best_weights = {k: v.detach().clone() for k, v in self.task.model.state_dict().items()}
        self.seconds += time.perf_counter() - start
        if self.history and self.history[-1]["generation"] == generation:
            self.history[-1]["full_val_acc"] = acc
        log.info("%s gen %d: best %.2f%% on the full validation split (best seen %.2f%%)",
                 self.name, generation, acc, self.best_val_acc)  # fmt: skip

    def trace_fields(self) -> dict[str, Any]:
        """The search's wall-clock seconds when this generation ended (the metrics CSV's clock)."""
        return {"elapsed_s": self.clock.elapsed()}

    def seen(self, arch: str) -> bool:
        return False  # weight sharing: an architecture's fitness changes with the weights

    def finished(self) -> bool:
        return False

    def chosen_arch(self, population_best: str) -> str:
        """§3.3.7: the best architecture on the full validation split over all generations."""
        return self.best_arch if self.best_arch is not None else population_best

    def summary(self) -> dict[str, Any]:
        """§3.3.7 output: the chosen architecture's full-validation accuracy, the task's compute seconds and
        training throughput, and the §3.3.10 (a) test accuracy of that architecture with the supernet
        weights saved with it. (``best_fitness`` of the result stays the final population's best.)"""
        out: dict[str, Any] = {
            "best_val_acc": self.best_val_acc,
            "best_generation": self.best_generation,
            "search_seconds": self.seconds,
            "images_per_s": self.throughput(),
            "history": self.history,
        }
        if self.supernet_test and self._best_weights is not None and self.best_arch is not None:
            out["supernet_test_acc"] = self._supernet_test_acc()
        return out

    def throughput(self) -> float:
        """Mean training images per second over the generations (NaN before any)."""
        rates = [h["images_per_s"] for h in self.history if np.isfinite(h["images_per_s"])]
        return float(np.mean(rates)) if rates else float("nan")

    # -- checkpoint state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "best_arch": self.best_arch,
            "best_val_acc": self.best_val_acc,
            "best_generation": self.best_generation,
            "seconds": self.seconds,
            "run_seconds": self.clock.elapsed(),
            "history": self.history,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_arch = state["best_arch"]
        self.best_val_acc = float(state["best_val_acc"])
        self.best_generation = int(state["best_generation"])
        self.seconds = float(state["seconds"])
        self.history = list(state["history"])
        self.clock.restore(state["run_seconds"])

    def _file(self, directory: Path, generation: int) -> Path:
        return Path(directory) / f"{self.name}_gen{generation}.pt"

    def save_files(self, directory: Path, generation: int) -> None:
        """Supernet, optimiser and best-seen weights after ``generation``, written atomically.

        The driver writes these files before its JSON state, so the previous generation's file is kept
        until the next save: whichever generation the JSON names, its file exists.
        """
        import torch

        target = self._file(directory, generation)
        with atomic_path(target) as tmp:
            torch.save({"task": self.task.state_dict(), "best_weights": self._best_weights}, tmp)
        pattern = re.compile(rf"{re.escape(self.name)}_gen(\d+)\.pt")
        for f in Path(directory).glob(f"{self.name}_gen*.pt"):
            m = pattern.fullmatch(f.name)
            if m and int(m.group(1)) not in (generation, generation - 1):
                f.unlink(missing_ok=True)

    def load_files(self, directory: Path, generation: int) -> None:
        import torch

        path = self._file(directory, generation)
        try:
            blob = torch.load(path, map_location=self.task.device, weights_only=True)
        except (OSError, RuntimeError) as err:
            raise KtnasError(
                f"{path}: missing or unreadable supernet checkpoint of generation {generation} ({err}); "
                "delete the checkpoint (.json and .d/) to restart this search"
            ) from None
        self.task.load_state_dict(blob["task"])
        self._best_weights = blob["best_weights"]
        if self.task.generation != generation:
            raise KtnasError(f"{path}: holds generation {self.task.generation}, expected {generation}")

    # -- internals ----------------------------------------------------------------------------------------
    def _log_generation(self, stats: dict[str, float], seconds: float) -> None:
        self.seconds += seconds
        self.history.append(
            {
                "generation": int(stats["generation"]),
                "lr": stats["lr"],
                "loss": stats["loss"],
                "train_acc": stats["train_acc"],
                "images_per_s": stats["images_per_s"],
                "seconds": seconds,
            }
        )

    def _supernet_test_acc(self) -> float:
        """Test accuracy of the best architecture with its saved supernet weights (§3.3.10 (a))."""
        import torch

        model = self.task.model
        current = {k: v.detach().clone() for k, v in model.state_dict().items()}
        try:
            model.load_state_dict(self._best_weights)  # type: ignore[arg-type]
            assert self.best_arch is not None
            return self.task.evaluate_test(self.best_arch)
        finally:
            with torch.no_grad():
                model.load_state_dict(current)


class SearchClock:
    """The search's progress after every generation: one log line (elapsed, ETA from the mean time per
    generation so far, each task's best fitness) and, when ``metrics`` is given, the metrics CSV rewritten
    from the tasks' traces and histories (both checkpointed, so a resumed search's file is complete).

    Columns: ``generation``, ``task``, ``best_fitness`` (the population's best, % on the V fitness images),
    ``full_val_acc`` (that individual on the whole validation split), ``best_val_acc`` (best so far),
    ``lr``, ``loss``, ``train_acc``, ``images_per_s``, ``seconds`` (this task's generation), ``elapsed_s``
    and ``eta_s`` (the whole search).
    """

    def __init__(
        self, problems: Sequence[DartsProblem], clock: WallClock, generations: int, metrics: str | Path | None
    ) -> None:
        self.problems, self.clock, self.generations = list(problems), clock, generations
        self.metrics = None if metrics is None else Path(metrics)

    def __call__(self, generation: int, traces: Sequence[Sequence[Mapping[str, Any]]]) -> None:
        elapsed = self.clock.elapsed()
        done = generation + 1
        best = ", ".join(
            f"{p.name} {t[-1]['best_fitness']:.2f}%" for p, t in zip(self.problems, traces, strict=True) if t
        )
        log.info(
            "generation %d/%d done, elapsed %s, ETA %s; best fitness %s",
            done, self.generations, duration(elapsed), duration(eta_seconds(elapsed, done, self.generations)), best,
        )  # fmt: skip
        if self.metrics is not None:
            write_metrics(self.metrics, self.rows(traces))

    def rows(self, traces: Sequence[Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
        """One row per (generation, task)."""
        per_task = []
        for problem, trace in zip(self.problems, traces, strict=True):
            hist = {h["generation"]: h for h in problem.history}
            best_seen = float("-inf")
            rows = []
            for entry in trace:
                g = int(entry["generation"])
                h = hist.get(g, {})
                full = h.get("full_val_acc", float("nan"))
                best_seen = max(best_seen, full) if np.isfinite(full) else best_seen
                elapsed = float(entry.get("elapsed_s", float("nan")))
                rows.append(
                    {
                        "generation": g,
                        "task": problem.name,
                        "best_fitness": entry["best_fitness"],
                        "full_val_acc": full,
                        "best_val_acc": best_seen,
                        "lr": h.get("lr"),
                        "loss": h.get("loss"),
                        "train_acc": h.get("train_acc"),
                        "images_per_s": h.get("images_per_s"),
                        "seconds": h.get("seconds"),
                        "elapsed_s": elapsed,
                        "eta_s": eta_seconds(elapsed, g + 1, self.generations),
                    }
                )
            per_task.append(rows)
        return sorted((r for rows in per_task for r in rows), key=lambda r: int(r["generation"]))
