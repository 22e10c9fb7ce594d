"""Background runs for the app: each is its own process, so a long run freezes no one.

A job is a folder ``cache/jobs/<id>/`` holding ``job.json`` (the :class:`RunConfig` of each
model × stimulus set it runs, in order, as JSON), the ``progress.json`` record the run
rewrites as it goes, and at the end ``result.json`` (exit state, the error line if any,
and the :class:`RunReport` of each finished set).  Settings travel typed, from the Run
page to the solver; nothing is parsed back out of a command line or an error stream.  The
app only reads these files, so any number of sessions can watch the same job.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path

from core.config import RunConfig
from core.errors import StrataError, first_line
from core.paths import ROOT, cache_dir


def _jobs() -> Path:
    path = cache_dir() / "jobs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_json(path: Path, payload: dict) -> None:
    """Atomically: readers see the old record or the new one, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, default=str))
    tmp.replace(path)


@dataclass(frozen=True)
class JobStatus:
    """What a job is doing now.

    ``stage`` is one of :data:`STAGE_WORDS` (or None before the first), ``done`` and
    ``total`` count within it; ``step`` (1-based) and ``n_steps`` say which of the job's
    model × stimulus-set runs is going; ``note`` says why a stage may take long (a first
    model conversion).
    """

    job_id: str
    configs: tuple[RunConfig, ...]
    state: str  # "running", "done", "failed", "lost"
    stage: str | None
    done: int
    total: int
    step: int
    n_steps: int
    eta_s: float | None
    note: str | None
    error: str | None
    started: float
    finished: float | None

    @property
    def title(self) -> str:
        models = list(dict.fromkeys(c.name for c in self.configs))
        sets = list(dict.fromkeys(c.stimuli for c in self.configs))
        return f"{', '.join(models)} × {', '.join(sets)}"


def start(configs: list[RunConfig]) -> str:
    """Run ``configs`` one after the other in a background process; returns the job id."""
    if not configs:
        raise ValueError("a job needs at least one run")
    job_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    folder = _jobs() / job_id
    folder.mkdir()
    _write_json(
        folder / "job.json",
        {"configs": [c.to_dict() for c in configs], "started": time.time()},
    )
    with (folder / "stderr.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ui.jobs", str(folder)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,  # not killed with the app's session
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    (folder / "pid").write_text(str(proc.pid))
    return job_id


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a finished child of this process lingers as a zombie until reaped
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def _read(path: Path) -> dict | None:
    with contextlib.suppress(OSError, json.JSONDecodeError):
        return json.loads(path.read_text())
    return None


def status(job_id: str) -> JobStatus:
    """The job's state from its files (any process may ask)."""
    folder = _jobs() / job_id
    job = json.loads((folder / "job.json").read_text())
    configs = tuple(RunConfig.from_dict(c) for c in job["configs"])
    progress = _read(folder / "progress.json") or {}
    result = _read(folder / "result.json")
    if result is not None:
        state = "done" if result["ok"] else "failed"
    else:
        try:
            pid = int((folder / "pid").read_text())
        except (OSError, ValueError):
            pid = -1
        state = "running" if pid > 0 and _alive(pid) else "lost"
    error = (result or {}).get("error")
    if state == "lost":
        error = "the run stopped without a result (killed?); start it again to resume"
    return JobStatus(
        job_id=job_id,
        configs=configs,
        state=state,
        stage=progress.get("stage"),
        done=int(progress.get("done", 0)),
        total=int(progress.get("total", 0)),
        step=int(progress.get("step", 1)),
        n_steps=len(configs),
        eta_s=progress.get("eta_s"),
        note=progress.get("note"),
        error=error,
        started=job["started"],
        finished=(result or {}).get("finished"),
    )


def recent(limit: int = 10) -> list[JobStatus]:
    """The newest jobs first."""
    folders = sorted((p for p in _jobs().iterdir() if (p / "job.json").is_file()), reverse=True)
    out = []
    for folder in folders[:limit]:
        with contextlib.suppress(OSError, json.JSONDecodeError, KeyError, StrataError):
            out.append(status(folder.name))
    return out


STAGE_WORDS = {
    "prepare": "reading the stimuli and checking what is already stored",
    "load": "loading the model",
    "extract": "extracting activations",
    "probe": "probing layer × component cells",
    "store": "writing results",
    "analyse": "computing the findings the pages show (once per model)",
}
"""What each stage of a job is doing, in words: the pipeline's :data:`core.pipeline.STAGES`
plus the job's own ``prepare`` (before the first callback) and ``analyse`` (warming the
analysis cache after a model's last run)."""
CONVERSION_NOTE = (
    "the first time only: converting the model from its GGUF file, about a minute or two; "
    "later runs load it in seconds"
)


class Rate:
    """Time left in a stage, from its steady pace: the clock starts at the first finished
    unit, so start-up (worker processes, imports, a first slow cell) is not extrapolated
    over the whole stage (that gave "about 8341 s left" for a 30 s stage).

    No estimate until a few units (at least 3 and 5 % of the stage) have finished since.
    """

    def __init__(self):
        self.stage: str | None = None
        self.start: tuple[float, int] | None = None

    def __call__(self, stage: str, done: int, total: int, now: float) -> float | None:
        if stage != self.stage:
            self.stage, self.start = stage, None
        if done <= 0 or total <= 0:
            return None
        if self.start is None:
            self.start = (now, done)
            return None
        t0, d0 = self.start
        steps = done - d0
        if steps < max(3, 0.05 * total) or now <= t0:
            return None
        return (now - t0) / steps * (total - done)


class _Recorder:
    """The pipeline's progress callback, kept as ``progress.json`` for the app to poll."""

    def __init__(self, path: Path, step: int, note: str | None = None, clock=time.time):
        self.path, self.step, self.note, self.clock = path, step, note, clock
        self.rate = Rate()

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = self.clock()
        record = {"step": self.step, "stage": stage, "done": done, "total": total}
        if stage == "load" and self.note:
            record["note"] = self.note
        _write_json(self.path, {**record, "eta_s": self.rate(stage, done, total, now), "time": now})


def _conversion_note(config: RunConfig) -> str | None:
    """Say so when this run's model is converted from GGUF first (it happens once)."""
    from core.lm import identify
    from core.lm.loading import needs_conversion

    if config.remote:
        return None
    with contextlib.suppress(StrataError, OSError):
        if needs_conversion(identify(config.model, dtype=config.dtype)):
            return CONVERSION_NOTE
    return None


def _warm(config: RunConfig, recorder: _Recorder) -> None:
    """Compute what the pages show first for this model, so their first visit is quick."""
    from core.present.views import warm

    for pooling in config.poolings:
        recorder("analyse", 0, 1)
        try:
            warm(config.db, model=config.name, pooling=pooling)
        except StrataError as exc:  # a cache: a failure here never fails the run
            print(f"warning: analyses not precomputed: {first_line(exc)}", file=sys.stderr)
        recorder("analyse", 1, 1)


def _run_all(configs: list[RunConfig], folder: Path, reports: list[dict]) -> None:
    """Check every config's inputs, then run each, appending its report to ``reports``.

    After a model's last run in the job, its findings are computed into the analysis cache
    (the pages read them from there).
    """
    from core.pipeline import prepare, run

    for config in configs:  # every set's inputs, before the first does any work
        prepare(config)
    for step, config in enumerate(configs, start=1):
        recorder = _Recorder(folder / "progress.json", step)
        recorder("prepare", 0, 0)
        recorder.note = _conversion_note(config)
        report = run(config, progress=recorder)
        reports.append(report.to_dict())
        later = configs[step:]
        if not any((c.name, c.db) == (config.name, config.db) for c in later):
            _warm(config, recorder)


def _run(folder: Path) -> bool:
    """Inside the job's process: run each config in order, keep a structured result."""
    from core.lm.loading import one_gguf_parse

    job = json.loads((folder / "job.json").read_text())
    reports: list[dict] = []
    error = None
    try:
        with one_gguf_parse():  # a GGUF is parsed once, for the checks and the conversion
            _run_all([RunConfig.from_dict(c) for c in job["configs"]], folder, reports)
    except StrataError as exc:
        error = first_line(exc)
    except Exception as exc:  # a bug: keep its traceback in stderr.log, say so in one line
        traceback.print_exc()
        error = f"unexpected {type(exc).__name__}: {first_line(exc)} (see stderr.log)"
    _write_json(
        folder / "result.json",
        {"ok": error is None, "error": error, "reports": reports, "finished": time.time()},
    )
    return error is None


def running(limit: int = 10) -> list[JobStatus]:
    """The jobs going now (newest first)."""
    return [job for job in recent(limit) if job.state == "running"]


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(5, round(seconds / 5) * 5):.0f} s"
    return f"{seconds / 60:.0f} min"


def progress_text(job: JobStatus) -> tuple[float, str]:
    """A running job's progress bar fraction and its line of words.

    ``run 2 of 3 (gemma3-270m × pairs): probing layer × component cells: 40/90, about
    1 min left in this stage``.
    """
    stage = STAGE_WORDS.get(job.stage or "prepare", job.stage or "starting")
    parts = []
    if job.n_steps > 1:
        config = job.configs[min(job.step, job.n_steps) - 1]
        parts.append(f"run {job.step} of {job.n_steps} ({config.name} × {config.stimuli})")
    text = stage
    if job.total and job.stage not in ("prepare", "analyse"):
        text += f": {job.done}/{job.total}"
    if job.note:
        text += f" ({job.note})"
    if job.eta_s:
        text += f", about {_duration(job.eta_s)} left in this stage"
    fraction = min(job.done / job.total, 1.0) if job.total else 0.0
    return fraction, ": ".join([*parts, text]) if parts else text


if __name__ == "__main__":
    sys.exit(0 if _run(Path(sys.argv[1])) else 1)
