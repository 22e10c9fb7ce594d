"""A run: stimuli → (cached) activations → (cached) probes → results database.

Every stage is keyed by what determines it and kept as it finishes, so a second run of the
same thing computes nothing (and does not even load the model), and a killed run resumes:
extraction from its last saved chunk, probing from its last finished layer.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from core import store
from core.cache import ActivationCache, Activations, activation_key
from core.errors import ConfigError
from core.extract import POOLINGS, batches, extract, plan_tokens
from core.models import COMPONENTS, ModelError, identify, load
from core.paths import cache_dir
from core.probe import ProbeSettings, probe_grid
from core.probe.backends import BACKENDS
from core.probe.grid import cell_from_json, cell_to_json
from core.probe.summary import summarize
from core.stimuli import StimulusSet
from core.stimuli import load as load_stimuli

STRATA_VERSION = "0.1.0"
# (stage, done, total); stages: "load", "extract", "probe", "store"
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class RunConfig:
    """What a run does; recorded with its results.

    Attributes
    ----------
    model : alias, hub id, local directory or GGUF path.
    stimuli : built-in set, upload name or CSV path.
    poolings : one result per pooling, all from one forward pass.
    label : the model's name in the results (default: ``model``), e.g. to keep a
        bfloat16 and a float32 run of one model apart.
    dtype, quantization, device_map, max_memory : how the model is loaded.
    store_dtype : activations are stored as float32 or float16.
    components : which of resid_pre, attn_out, mlp_out to extract and probe.
    probe : probe settings (folds, C, alphas, permutations, halves).
    n_jobs : probe cells fitted in parallel (-1: all cores).
    joblib_backend : ``loky`` here; ``ray`` or ``dask`` on a cluster.
    batch_tokens, max_batch : extraction batch budget.
    chunk_items : texts per saved extraction chunk (the resume granularity).
    force : recompute probes even when a matching result is stored.
    backend : ``hooks`` (PyTorch forward hooks) or ``nnsight`` (same modules, traced).
    remote : run the model on NDIF through nnsight (hub ids only; needs NDIF_API_KEY).
    chat_template : wrap each text in the tokenizer's chat template as a user turn.
    """

    model: str
    stimuli: str
    poolings: tuple[str, ...] = ("mean",)
    label: str | None = None
    dtype: str = "float32"
    quantization: str = "none"
    device_map: str | dict | None = None
    max_memory: dict | None = None
    store_dtype: str = "float32"
    components: tuple[str, ...] = COMPONENTS
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    n_jobs: int = -1
    joblib_backend: str = "loky"
    batch_tokens: int = 8192
    max_batch: int = 64
    chunk_items: int = 512
    force: bool = False
    db: str | None = None
    backend: str = "hooks"
    remote: bool = False
    chat_template: bool = False

    def __post_init__(self):
        for pooling in self.poolings:
            if pooling not in POOLINGS:
                raise ConfigError(f"unknown pooling '{pooling}'; use one of {', '.join(POOLINGS)}")
        for component in self.components:
            if component not in COMPONENTS:
                raise ConfigError(
                    f"unknown component '{component}'; use any of {', '.join(COMPONENTS)}"
                )
        if self.backend not in ("hooks", "nnsight"):
            raise ConfigError(f"unknown backend '{self.backend}'; use hooks or nnsight")
        if self.remote and self.backend != "nnsight":
            raise ConfigError("remote execution runs through nnsight: add --backend nnsight")
        if self.store_dtype not in ("float32", "float16"):
            raise ConfigError(f"unknown store dtype '{self.store_dtype}'; use float32 or float16")
        for name in ("batch_tokens", "max_batch", "chunk_items"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} must be at least 1")
        if self.joblib_backend not in BACKENDS:
            raise ConfigError(
                f"unknown joblib backend '{self.joblib_backend}'; use one of {', '.join(BACKENDS)}"
            )
        if self.n_jobs == 0 or self.n_jobs < -1:
            raise ConfigError(f"n_jobs={self.n_jobs}: use a positive number, or -1 for all cores")


@dataclass
class RunReport:
    """What a run did, stage by stage."""

    model: str
    stimulus_set: str
    poolings: tuple[str, ...]
    n_items: int
    n_layers: int
    loaded_model: bool
    extracted: bool
    probed: list[str]
    timings: dict[str, float]
    run_ids: dict[str, str]


def versions() -> dict[str, str]:
    out = {"strata": STRATA_VERSION}
    for package in ("torch", "transformers", "scikit-learn", "numpy", "scipy", "duckdb", "joblib"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[package] = metadata.version(package)
    return out


def machine() -> dict:
    info = {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    try:
        import torch

        if torch.cuda.is_available():
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        pass
    return info


def _hash(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[
        :24
    ]


def _probe_key(act_key: str, stimuli: StimulusSet, config: RunConfig) -> str:
    return _hash(
        {
            "activations": act_key,
            "stimuli": stimuli.content_hash,
            "settings": config.probe.to_dict(),
            "components": list(config.components),
        }
    )


class _CellStore:
    """Finished probe cells on disk (``cache/probes/<key>/``): probing resumes from them."""

    def __init__(self, key: str):
        self.folder = cache_dir() / "probes" / key

    def load(self) -> dict[tuple[str, int], dict]:
        done = {}
        for file in self.folder.glob("*.json") if self.folder.is_dir() else []:
            component, layer = file.stem.rsplit("-", 1)
            try:
                done[(component, int(layer))] = cell_from_json(json.loads(file.read_text()))
            except (OSError, ValueError, KeyError, TypeError):
                file.unlink(missing_ok=True)  # a damaged cell is recomputed
        return done

    def save(self, cell: tuple[str, int], result: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{cell[0]}-{cell[1]}.json"
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cell_to_json(result)))
        tmp.replace(target)


def _extract_missing(
    config: RunConfig,
    stimuli: StimulusSet,
    missing: dict[str, str],
    cache: ActivationCache,
    progress: Progress,
    timings: dict,
) -> dict[str, Activations]:
    """Load the model once and extract every missing pooling, in resumable chunks."""
    started = time.perf_counter()
    progress("load", 0, 1)
    if config.remote:
        from core.nnsight_backend import load_remote

        model = load_remote(config.model)
    else:
        model = load(
            config.model,
            dtype=config.dtype,
            quantization=config.quantization,
            device_map=config.device_map,
            max_memory=config.max_memory,
        )
    progress("load", 1, 1)
    timings["load"] = time.perf_counter() - started
    started = time.perf_counter()
    poolings = list(missing)
    plan = plan_tokens(
        model.tokenizer,
        stimuli,
        poolings=poolings,
        max_length=getattr(model.config, "max_position_embeddings", None),
        chat_template=config.chat_template,
    )
    order = np.concatenate(
        batches(plan.lengths, batch_tokens=config.batch_tokens, max_batch=config.max_batch)
    )
    chunks = [order[i : i + config.chunk_items] for i in range(0, len(order), config.chunk_items)]
    done_parts = {p: cache.load_parts(key) for p, key in missing.items()}
    n_done = sum(
        len(rows)
        for i, rows in enumerate(chunks)
        if all(i in done_parts[p] and np.array_equal(done_parts[p][i][0], rows) for p in poolings)
    )
    progress("extract", n_done, len(stimuli))
    for i, rows in enumerate(chunks):
        if all(i in done_parts[p] and np.array_equal(done_parts[p][i][0], rows) for p in poolings):
            continue

        def tick(n: int) -> None:
            nonlocal n_done
            n_done += n
            progress("extract", n_done, len(stimuli))

        arrays = extract(
            model,
            stimuli,
            poolings=poolings,
            components=config.components,
            rows=rows,
            batch_tokens=config.batch_tokens,
            max_batch=config.max_batch,
            plan=plan,
            on_batch=tick,
            backend=config.backend,
            remote=config.remote,
        )
        for pooling in poolings:
            stored = {c: a.astype(config.store_dtype) for c, a in arrays[pooling].items()}
            cache.save_part(missing[pooling], i, rows, stored)
            done_parts[pooling][i] = (rows, stored)
    out = {}
    for pooling, key in missing.items():
        full = {
            c: np.empty(
                (len(stimuli), model.info.n_layers, model.info.d_model), dtype=config.store_dtype
            )
            for c in config.components
        }
        for rows, arrays in done_parts[pooling].values():
            for c in config.components:
                full[c][rows] = arrays[c]
        manifest = {
            "model": model.info.to_dict(),
            "stimulus_set": stimuli.name,
            "text_hash": stimuli.text_hash,
            "item_ids": stimuli.frame["item_id"].tolist(),
            "pooling": pooling,
            "store_dtype": config.store_dtype,
            "chat_template": config.chat_template,
            "backend": config.backend + ("-remote" if config.remote else ""),
        }
        out[pooling] = cache.save(key, full, manifest)
    timings["extract"] = time.perf_counter() - started
    return out


def run(config: RunConfig, *, progress: Progress | None = None) -> RunReport:
    """Extract (cached), probe (cached) and store one model × stimulus set.

    Raises
    ------
    ModelError, StimulusError, ExtractionError, StoreError, FoldError
        Each with one line naming the problem.
    """
    progress = progress or (lambda stage, done, total: None)
    timings: dict[str, float] = {}
    stimuli = load_stimuli(config.stimuli, n_folds=config.probe.n_folds)
    label = config.label or config.model
    model_id = _model_id(config)
    cache = ActivationCache()
    keys = {
        p: activation_key(
            model_fingerprint=model_id.fingerprint,
            text_hash=stimuli.text_hash,
            pooling=p,
            store_dtype=config.store_dtype,
            chat_template=config.chat_template,
        )
        for p in config.poolings
    }
    probe_keys = {p: _probe_key(k, stimuli, config) for p, k in keys.items()}
    report = RunReport(
        model=label,
        stimulus_set=stimuli.name,
        poolings=config.poolings,
        n_items=len(stimuli),
        n_layers=0,
        loaded_model=False,
        extracted=False,
        probed=[],
        timings=timings,
        run_ids={},
    )
    todo = []
    for pooling in config.poolings:
        stored = store.latest_run(config.db, label, stimuli.name, pooling)
        if (
            not config.force
            and stored is not None
            and stored.get("settings", {}).get("probe_key") == probe_keys[pooling]
        ):
            report.run_ids[pooling] = stored["run_id"]
            report.n_layers = int(stored["n_layers"])
        else:
            todo.append(pooling)
    if not todo:
        return report
    acts = {p: cache.load(keys[p]) for p in todo}
    acts = {p: a for p, a in acts.items() if a is not None and _has_components(a, config)}
    missing = {p: keys[p] for p in todo if p not in acts}
    if missing:
        acts.update(_extract_missing(config, stimuli, missing, cache, progress, timings))
        report.loaded_model = report.extracted = True
    n_jobs = (os.cpu_count() or 1) if config.n_jobs == -1 else config.n_jobs
    for pooling in todo:
        entry = acts[pooling]
        report.n_layers = entry.n_layers
        started = time.perf_counter()
        cells = _CellStore(probe_keys[pooling])
        done = {} if config.force else cells.load()
        arrays = {c: entry.arrays[c] for c in config.components}
        results = probe_grid(
            arrays,
            stimuli,
            config.probe,
            n_jobs=n_jobs,
            backend=config.joblib_backend,
            done=done,
            on_cell=lambda cell, result, n, total, cells=cells: (
                cells.save(cell, result),
                progress("probe", n, total),
            ),
        )
        timings[f"probe_{pooling}"] = time.perf_counter() - started
        started = time.perf_counter()
        progress("store", 0, 1)
        run_id = _store(
            config, label, stimuli, pooling, entry, results, probe_keys[pooling], timings
        )
        progress("store", 1, 1)
        timings[f"store_{pooling}"] = time.perf_counter() - started
        report.probed.append(pooling)
        report.run_ids[pooling] = run_id
    return report


def _model_id(config: RunConfig):
    if config.remote:
        from core.models import ModelId

        return ModelId(config.model, "remote", config.model, f"{config.model}@ndif", "bfloat16")
    return identify(config.model, dtype=config.dtype, quantization=config.quantization)


def _has_components(entry: Activations, config: RunConfig) -> bool:
    return all(c in entry.arrays for c in config.components)


def _store(config, label, stimuli, pooling, entry, results, probe_key, timings) -> str:
    n_layers = entry.n_layers
    scores = summarize(results, n_layers=n_layers)
    run_id = uuid.uuid4().hex[:16]
    scores["run_id"] = run_id
    targets = results.targets.assign(
        kind=lambda t: t["target"].map(stimuli.targets),
        position=range(len(results.targets)),
    )
    folds = pd.DataFrame(
        {
            "item_id": stimuli.frame["item_id"],
            "group": stimuli.frame["group"].astype(str),
            "fold": results.folds,
            "row_index": np.arange(len(stimuli)),
        }
    )
    model_info = entry.manifest.get("model", {})
    now = datetime.now(UTC).replace(tzinfo=None)
    run = {
        "run_id": run_id,
        "model": label,
        "stimulus_set": stimuli.name,
        "pooling": pooling,
        "stimuli_hash": stimuli.content_hash,
        "activation_key": entry.key,
        "n_items": len(stimuli),
        "n_layers": n_layers,
        "d_model": int(next(iter(entry.arrays.values())).shape[2]),
        "model_info": model_info,
        "settings": {
            **config.probe.to_dict(),
            "probe_key": probe_key,
            "pooling": pooling,
            "components": list(config.components),
            "store_dtype": config.store_dtype,
            "model": config.model,
            "dtype": config.dtype,
            "quantization": config.quantization,
            "device_map": config.device_map,
            "backend": config.backend + ("-remote" if config.remote else ""),
            "chat_template": config.chat_template,
        },
        "versions": versions(),
        "machine": machine(),
        "timings": dict(timings),
        "started_at": now,
        "finished_at": now,
    }
    store.write_run(
        config.db,
        run=run,
        tables={
            "probe_scores": scores,
            "fold_scores": results.fold_scores,
            "null_scores": results.null_scores,
            "half_scores": results.half_scores,
            "targets": targets,
            "folds": folds,
        },
    )
    return run_id


def activations_for(
    model: str,
    stimuli: StimulusSet,
    *,
    pooling: str = "mean",
    dtype: str = "float32",
    quantization: str = "none",
    store_dtype: str = "float32",
    components: tuple[str, ...] = COMPONENTS,
    progress: Progress | None = None,
) -> Activations:
    """Cached activations of one pooling, extracted first when missing (for export, CKA)."""
    config = RunConfig(
        model=model,
        stimuli=stimuli.name,
        poolings=(pooling,),
        dtype=dtype,
        quantization=quantization,
        store_dtype=store_dtype,
        components=components,
    )
    model_id = identify(model, dtype=dtype, quantization=quantization)
    key = activation_key(
        model_fingerprint=model_id.fingerprint,
        text_hash=stimuli.text_hash,
        pooling=pooling,
        store_dtype=store_dtype,
    )
    cache = ActivationCache()
    entry = cache.load(key)
    if entry is not None and _has_components(entry, config):
        return entry
    progress = progress or (lambda stage, done, total: None)
    return _extract_missing(config, stimuli, {pooling: key}, cache, progress, {})[pooling]


def export(
    model: str, stimuli_name: str, out: str | Path, *, pooling: str = "mean", **kwargs
) -> Path:
    """Write ``activations.npz``, ``stimuli.csv`` and ``targets.json`` for use elsewhere."""
    stimuli = load_stimuli(stimuli_name)
    out = Path(out)
    try:  # before extracting: minutes of work should not end on an unwritable folder
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".strata-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"cannot write to '{out}': {exc.strerror or exc}") from None
    entry = activations_for(model, stimuli, pooling=pooling, **kwargs)
    arrays = {c: np.asarray(a, dtype=np.float32) for c, a in entry.arrays.items()}
    tmp = out / ".activations.npz.tmp"
    with tmp.open("wb") as fh:
        np.savez(fh, **arrays)
    tmp.replace(out / "activations.npz")
    simple = [t for t, k in stimuli.targets.items() if k in ("binary", "continuous")]
    multiclass = [t for t, k in stimuli.targets.items() if k == "multiclass"]
    frame = stimuli.frame[["item_id", "text", "group", *simple]]
    frame.to_csv(out / "stimuli.csv", index=False)
    (out / "targets.json").write_text(json.dumps({t: stimuli.targets[t] for t in simple}, indent=1))
    if multiclass:  # the contract's targets.json knows binary and continuous only
        stimuli.frame[["item_id", *multiclass]].to_csv(out / "multiclass.csv", index=False)
    (out / "provenance.json").write_text(
        json.dumps(
            {
                "model": entry.manifest.get("model"),
                "stimulus_set": stimuli.name,
                "stimuli_hash": stimuli.content_hash,
                "pooling": pooling,
                "shape": "[n_items, n_layers, d_model]",
                "versions": versions(),
            },
            indent=1,
            default=str,
        )
    )
    return out


__all__ = ["ModelError", "RunConfig", "RunReport", "activations_for", "export", "run"]
