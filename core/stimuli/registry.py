"""Find stimulus sets by name: the built-in ones, uploads kept under the cache, or a CSV path."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path

from core.names import in_set_order
from core.paths import cache_dir
from core.stimuli.schema import StimulusError, StimulusSet, read_csv, validate

DATA = Path(__file__).resolve().parent / "data"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

# Sets made at load time from other sets (e.g. ``buried`` from ``pairs`` plus filler):
# name -> function returning the raw all-string frame.
DERIVED: dict[str, Callable[[], object]] = {}


def builtin_names() -> list[str]:
    """Built-in sets: the paper's four first, then any variants.

    Returns
    -------
    list of str
    """
    return in_set_order({p.stem for p in DATA.glob("*.csv")} | set(DERIVED))


def _uploads() -> Path:
    path = cache_dir() / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


# An upload is kept as ``<name>-<16 hex digits of its content hash>.csv``.
_UPLOAD_FILE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,63})-[0-9a-f]{16}\.csv$")


def _upload_files(name: str | None = None) -> list[Path]:
    """Kept uploads, all or of exactly ``name`` (never a longer name it is a prefix of:
    ``good`` is not ``good-v2``), oldest first."""
    files = []
    for path in _uploads().glob("*.csv"):
        match = _UPLOAD_FILE.match(path.name)
        if match and (name is None or match["name"] == name):
            files.append(path)
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))


def upload_names() -> list[str]:
    """Names of uploaded sets.

    Returns
    -------
    list of str
    """
    return sorted({_UPLOAD_FILE.match(p.name)["name"] for p in _upload_files()})


def save_upload(data: bytes, name: str, *, n_folds: int = 6) -> StimulusSet:
    """Validate an uploaded CSV and keep it under the cache, named by its content hash.

    The bytes are parsed as CSV only; the name is checked so it cannot reach outside
    the uploads folder.
    """
    if not _NAME.match(name) or name in builtin_names():
        raise StimulusError(
            f"'{name}' cannot name an upload: use letters, digits, '.', '_' or '-' "
            "(at most 64) and not a built-in set's name"
        )
    if n_folds < 2:
        raise StimulusError(
            f"folds={n_folds}: cross-validation needs at least 2 folds "
            "(the set is checked for the folds it will be run with)"
        )
    if len(data) > MAX_UPLOAD_BYTES:
        raise StimulusError(
            f"the file is {len(data) / 1e6:.1f} MB; "
            f"uploads are limited to {MAX_UPLOAD_BYTES // 2**20} MiB"
        )
    stimuli = validate(read_csv(data), name=name, n_folds=n_folds)
    digest = hashlib.sha256(data).hexdigest()[:16]
    folder = _uploads()
    previous = [p for p in _upload_files(name) if p.name != f"{name}-{digest}.csv"]
    target = folder / f"{name}-{digest}.csv"
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    for old in previous:  # only once the new one is in place
        old.unlink(missing_ok=True)
    return stimuli


def source_stamp(name: str) -> float:
    """When the file behind a set last changed (0 when none): a key for cached hashes.

    Parameters
    ----------
    name : str
        A built-in or uploaded set's name, or a CSV path.

    Returns
    -------
    float
        The newest modification time of the set's files.
    """
    if name in DERIVED:
        files = [DATA / "pairs.csv", DATA / "filler_alice.txt"]
    elif (DATA / f"{name}.csv").exists():
        files = [DATA / f"{name}.csv"]
    elif _NAME.match(name):
        files = _upload_files(name)[-1:]
    else:
        files = [Path(name)]
    return max((f.stat().st_mtime for f in files if f.is_file()), default=0.0)


def load(name: str, *, n_folds: int = 6) -> StimulusSet:
    """Load a built-in set, an upload, or a CSV file by path, validated.

    Raises
    ------
    StimulusError
        When no such set exists or the file breaks the schema.
    """
    if name in DERIVED:
        return validate(DERIVED[name](), name=name, n_folds=n_folds)  # type: ignore[arg-type]
    builtin = DATA / f"{name}.csv"
    if _NAME.match(name) and builtin.exists():
        return validate(read_csv(str(builtin)), name=name, n_folds=n_folds)
    if _NAME.match(name):
        uploaded = _upload_files(name)
        if uploaded:  # the newest upload of the name
            return validate(read_csv(str(uploaded[-1])), name=name, n_folds=n_folds)
    path = Path(name)
    if path.suffix.lower() == ".csv":
        if not path.is_file():
            raise StimulusError(f"stimulus file '{name}' does not exist")
        try:
            raw = read_csv(str(path))
        except PermissionError:
            raise StimulusError(
                f"stimulus file '{name}' cannot be read (permission denied)"
            ) from None
        return validate(raw, name=path.stem, n_folds=n_folds)
    known = ", ".join(builtin_names() + upload_names())
    raise StimulusError(f"unknown stimulus set '{name}' (known: {known}; or give a path to a .csv)")


def _register_derived() -> None:
    from core.stimuli import buried

    buried.register(DERIVED)


_register_derived()
