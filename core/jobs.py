"""Background runs for the app: each is its own process, so a long run freezes no one.

A job is a folder ``cache/jobs/<id>/`` holding ``job.json`` (the command line), the
``progress.json`` the run writes as it goes, its ``stderr.log`` and, at the end,
``result.json`` with the exit code and the error line, if any.  The app only reads these
files, so any number of sessions can watch the same job.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from core.paths import ROOT, cache_dir


def _jobs() -> Path:
    path = cache_dir() / "jobs"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class JobStatus:
    """What a job is doing now."""

    job_id: str
    args: list[str]
    state: str  # "running", "done", "failed", "lost"
    stage: str | None
    done: int
    total: int
    eta_s: float | None
    error: str | None
    started: float
    finished: float | None

    @property
    def title(self) -> str:
        args = self.args
        model = args[args.index("--model") + 1] if "--model" in args else "?"
        stimuli = []
        if "--stimuli" in args:
            for a in args[args.index("--stimuli") + 1 :]:
                if a.startswith("--"):
                    break
                stimuli.append(a)
        return f"{model} × {', '.join(stimuli) or '?'}"


def start(args: list[str]) -> str:
    """Start ``python -m core run <args>`` in the background; returns the job id."""
    job_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    folder = _jobs() / job_id
    folder.mkdir()
    (folder / "job.json").write_text(json.dumps({"args": args, "started": time.time()}))
    with (folder / "stderr.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "core.jobs", str(folder)],
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


def status(job_id: str) -> JobStatus:
    folder = _jobs() / job_id
    job = json.loads((folder / "job.json").read_text())
    progress, result = {}, None
    with contextlib.suppress(OSError, json.JSONDecodeError):
        progress = json.loads((folder / "progress.json").read_text())
    with contextlib.suppress(OSError, json.JSONDecodeError):
        result = json.loads((folder / "result.json").read_text())
    if result is not None:
        state = "done" if result["returncode"] == 0 else "failed"
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
        args=job["args"],
        state=state,
        stage=progress.get("stage"),
        done=int(progress.get("done", 0)),
        total=int(progress.get("total", 0)),
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
        with contextlib.suppress(OSError, json.JSONDecodeError, KeyError):
            out.append(status(folder.name))
    return out


def _run(folder: Path) -> int:
    """Inside the job's process: run the command line, keep its error line and exit code."""
    from core.__main__ import main

    job = json.loads((folder / "job.json").read_text())
    args = ["run", *job["args"], "--quiet", "--progress-json", str(folder / "progress.json")]
    captured = io.StringIO()

    class Tee(io.TextIOBase):
        def write(self, text):
            captured.write(text)
            return sys.__stderr__.write(text)

    with contextlib.redirect_stderr(Tee()):
        code = main(args)
    errors = [line for line in captured.getvalue().splitlines() if line.startswith("error:")]
    result = {
        "returncode": code,
        "error": errors[-1][len("error: ") :] if errors else None,
        "summary": [line for line in captured.getvalue().splitlines() if " × " in line],
        "finished": time.time(),
    }
    tmp = folder / "result.json.tmp"
    tmp.write_text(json.dumps(result))
    tmp.replace(folder / "result.json")
    return code


if __name__ == "__main__":
    sys.exit(_run(Path(sys.argv[1])))
