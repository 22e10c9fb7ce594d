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

    ``stage`` is one of :data:`core.pipeline.STAGES` (or None before the first), ``done``
    and ``total`` count within it; ``step`` (1-based) and ``n_steps`` say which of the
    job's model × stimulus-set runs is going.
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


class _Recorder:
    """The pipeline's progress callback, kept as ``progress.json`` for the app to poll."""

    def __init__(self, path: Path, step: int):
        self.path, self.step = path, step
        self.started: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.time()
        first = self.started.setdefault(stage, now)
        eta = (now - first) / done * (total - done) if done else None
        record = {"step": self.step, "stage": stage, "done": done, "total": total}
        _write_json(self.path, {**record, "eta_s": eta, "time": now})


def _run(folder: Path) -> bool:
    """Inside the job's process: run each config in order, keep a structured result."""
    from core.pipeline import prepare, run

    job = json.loads((folder / "job.json").read_text())
    reports, error = [], None
    try:
        configs = [RunConfig.from_dict(c) for c in job["configs"]]
        for config in configs:  # every set's inputs, before the first does any work
            prepare(config)
        for step, config in enumerate(configs, start=1):
            report = run(config, progress=_Recorder(folder / "progress.json", step))
            reports.append(report.to_dict())
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


if __name__ == "__main__":
    sys.exit(0 if _run(Path(sys.argv[1])) else 1)
