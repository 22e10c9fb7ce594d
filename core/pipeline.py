"""A run: stimuli → (cached) activations → (cached) probes → results database.

Every stage is keyed by what determines it and kept as it finishes, so a second run of the
same thing computes nothing (and does not even load the model), and a killed run resumes:
extraction from its last saved chunk, probing from its last finished layer.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from core.config import RunConfig, run_poolings
from core.lm import extract, identify, load, plan_tokens
from core.lm.budget import check_extraction
from core.lm.identity import ModelId
from core.lm.loading import LoadedModel
from core.lm.sinks import attention_pass, sink_rows
from core.lm.tokens import TokenPlan, batches
from core.paths import cache_dir
from core.probe import probe_grid
from core.probe.summary import summarize
from core.provenance import machine, versions
from core.stimuli import StimulusSet
from core.stimuli import load as load_stimuli
from core.storage import sinks as sink_cache
from core.storage import store
from core.storage.activations import ActivationCache, Activations, activation_key
from core.storage.cells import CellStore
from core.workers import bind_to_parent

STAGES: tuple[str, ...] = ("load", "extract", "probe", "store")
Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` with a stage of :data:`STAGES`."""


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

    def to_dict(self) -> dict:
        return {**self.__dict__, "poolings": list(self.poolings)}


def _silent(stage: str, done: int, total: int) -> None:
    return None


def _hash(payload) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def model_id(config: RunConfig) -> ModelId:
    """The model's fingerprint, without loading it (remote models: the hub id)."""
    if config.remote:
        return ModelId(config.model, "remote", config.model, f"{config.model}@ndif", "bfloat16")
    return identify(config.model, dtype=config.dtype, quantization=config.quantization)


def activation_keys(
    config: RunConfig,
    stimuli: StimulusSet,
    model: ModelId,
    poolings: tuple[str, ...] | None = None,
) -> dict[str, str]:
    """The activation cache key of each pooling of a run (default: the config's)."""
    return {
        pooling: activation_key(
            model_fingerprint=model.fingerprint,
            text_hash=stimuli.text_hash,
            pooling=pooling,
            store_dtype=config.store_dtype,
            chat_template=config.chat_template,
        )
        for pooling in poolings or config.poolings
    }


def _probe_key(act_key: str, stimuli: StimulusSet, config: RunConfig) -> str:
    """Everything that determines a pooling's probe results: the stored run's identity."""
    return _hash(
        {
            "activations": act_key,
            "stimuli": stimuli.content_hash,
            "settings": config.probe.to_dict(),
            "components": list(config.components),
        }
    )


# --------------------------------------------------------------------------- checks
@dataclass(frozen=True)
class Prepared:
    """What :func:`prepare` checked and found: the run's inputs, ready to use."""

    stimuli: StimulusSet
    model: ModelId
    keys: dict[str, str]  # pooling -> activation cache key
    poolings: tuple[str, ...] = ()  # the config's, plus the half controls (run_poolings)


def prepare(config: RunConfig, *, results: bool = True) -> Prepared:
    """Everything a run can refuse, checked before any work: no model loaded, nothing stored.

    The results database (with ``results``): its folder exists and the file is new or a
    readable Strata database no newer than this one.  The stimuli: read and validated for
    the run's folds.  The model: resolved and fingerprinted.  And when activations must be
    extracted: the memory and disk their arrays need, and every text's token count against
    the model's context, from its config and tokenizer alone.

    Parameters
    ----------
    config : RunConfig
    results : bool, default=True
        Check the results database too (``export`` writes none).

    Returns
    -------
    Prepared
        The validated stimuli, the model's identity and the activation keys.

    Raises
    ------
    StoreError, StimulusError, ModelError, ExtractionError
        One line naming the problem.
    """
    if results:
        store.check_writable(config.db)
    stimuli = load_stimuli(config.stimuli, n_folds=config.probe.folds)
    poolings = run_poolings(config.poolings, stimuli)
    model = model_id(config)
    keys = activation_keys(config, stimuli, model, poolings)
    cache = ActivationCache()
    _check_extraction(config, stimuli, model, [p for p in keys if not cache.has(keys[p])])
    return Prepared(stimuli=stimuli, model=model, keys=keys, poolings=poolings)


def _check_extraction(
    config: RunConfig, stimuli: StimulusSet, model: ModelId, poolings: list[str]
) -> None:
    """Memory, disk and token lengths of the poolings to extract, before the model loads."""
    if not poolings or config.remote:  # a remote model's config is not on this machine
        return
    check_extraction(
        model,
        stimuli,
        poolings=poolings,
        components=config.components,
        store_dtype=config.store_dtype,
        chat_template=config.chat_template,
        cache_root=cache_dir(),
        weights_in_memory=config.device_map in (None, "cpu"),
    )


# --------------------------------------------------------------------------- extraction
def _load_model(config: RunConfig) -> LoadedModel:
    if config.remote:
        from core.lm.nnsight_backend import load_remote

        return load_remote(config.model)
    return load(
        config.model,
        dtype=config.dtype,
        quantization=config.quantization,
        device_map=config.device_map,
        max_memory=config.max_memory,
    )


def _chunks(plan: TokenPlan, config: RunConfig) -> list[np.ndarray]:
    """Rows in length-sorted order, cut into the chunks that are saved as they finish."""
    order = np.concatenate(
        batches(plan.lengths, batch_tokens=config.batch_tokens, max_batch=config.max_batch)
    )
    return [order[i : i + config.chunk_items] for i in range(0, len(order), config.chunk_items)]


def _manifest(model: LoadedModel, stimuli: StimulusSet, pooling: str, config: RunConfig) -> dict:
    return {
        "model": model.info.to_dict(),
        "stimulus_set": stimuli.name,
        "text_hash": stimuli.text_hash,
        "item_ids": stimuli.frame["item_id"].tolist(),
        "pooling": pooling,
        "store_dtype": config.store_dtype,
        "chat_template": config.chat_template,
        "backend": config.backend + ("-remote" if config.remote else ""),
    }


def extract_missing(
    config: RunConfig,
    stimuli: StimulusSet,
    missing: dict[str, str],
    cache: ActivationCache,
    progress: Progress,
    timings: dict,
    *,
    sink_key: str | None = None,
) -> dict[str, Activations]:
    """Load the model once and extract every missing pooling, in resumable chunks.

    Parameters
    ----------
    missing : dict of str to str
        Pooling → activation key of the entries to make.
    sink_key : str, optional
        When given and not cached, the attention-sink statistics are measured with the
        loaded model: norm ratios in the extraction's own ``resid_pre`` hook, attention on
        position 0 in a short eager pass (:func:`measure_sinks`), and cached under it.

    Returns
    -------
    dict of str to Activations
        The saved entries, arrays of shape (n_items, n_layers, d_model) per component.
    """
    started = time.perf_counter()
    progress("load", 0, 1)
    model = _load_model(config)
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
    chunks = _chunks(plan, config)
    parts = {p: cache.load_parts(key) for p, key in missing.items()}

    def finished(i: int, rows: np.ndarray) -> bool:
        return all(i in parts[p] and np.array_equal(parts[p][i][0], rows) for p in poolings)

    n_done = sum(len(rows) for i, rows in enumerate(chunks) if finished(i, rows))
    progress("extract", n_done, len(stimuli))

    def tick(n: int) -> None:
        nonlocal n_done
        n_done += n
        progress("extract", n_done, len(stimuli))

    want_sinks = sink_key is not None and sink_cache.load(sink_key) is None
    norms: dict[int, np.ndarray] = {}

    def keep_norms(rows: np.ndarray, ratios: np.ndarray) -> None:
        norms.update(zip(rows.tolist(), ratios))

    for i, rows in enumerate(chunks):
        if finished(i, rows):
            continue
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
            on_norms=keep_norms if want_sinks else None,
        )
        for pooling in poolings:
            kept = {c: a.astype(config.store_dtype) for c, a in arrays[pooling].items()}
            cache.save_part(missing[pooling], i, rows, kept)
            parts[pooling][i] = (rows, kept)
    shape = (len(stimuli), model.info.n_layers, model.info.d_model)
    out = {}
    for pooling, key in missing.items():
        full = {c: np.empty(shape, dtype=config.store_dtype) for c in config.components}
        for rows, arrays in parts[pooling].values():
            for c in config.components:
                full[c][rows] = arrays[c]
        out[pooling] = cache.save(key, full, _manifest(model, stimuli, pooling, config))
    timings["extract"] = time.perf_counter() - started
    if want_sinks:
        started = time.perf_counter()
        measured = np.stack(list(norms.values())) if norms else None
        sink_cache.save(sink_key, measure_sinks(model, plan, norms=measured))
        timings["sinks"] = time.perf_counter() - started
    return out


def measure_sinks(
    model: LoadedModel, plan: TokenPlan, *, norms: np.ndarray | None = None
) -> pd.DataFrame:
    """Per-layer sink statistics: attention on position 0 from an eager pass over a fixed
    subset of texts, and the norm ratio from ``norms`` (every extracted text) when given.

    Parameters
    ----------
    model : LoadedModel
    plan : TokenPlan
        The stimulus set's token ids.
    norms : ndarray of shape (n_texts, n_layers), optional
        Norm ratios read during extraction (:func:`core.lm.sinks.norm_ratios`).

    Returns
    -------
    DataFrame
        ``layer``, ``norm_ratio``, ``attn_pos0``, ``n_norm_texts``, ``n_attn_texts``,
        ``norm_source`` (the ``sink_stats`` columns).
    """
    rows = sink_rows(len(plan.input_ids))
    stats = attention_pass(model, [plan.input_ids[i] for i in rows])
    stats = stats.rename(columns={"n_texts": "n_attn_texts"})
    stats["n_norm_texts"] = stats["n_attn_texts"]
    stats["norm_source"] = "attention pass"
    if norms is not None:
        valid = ~np.isnan(norms).all(axis=1)
        if valid.any():
            stats["norm_ratio"] = np.nanmedian(norms[valid], axis=0)
            stats["n_norm_texts"] = int(valid.sum())
            stats["norm_source"] = "extraction"
    return stats


def _sink_key(config: RunConfig, stimuli: StimulusSet, model: ModelId) -> str | None:
    """The sink statistics' cache key; ``None`` where they cannot be measured (remote)."""
    if config.remote:
        return None
    return sink_cache.sink_key(
        model_fingerprint=model.fingerprint,
        text_hash=stimuli.text_hash,
        chat_template=config.chat_template,
    )


def _record_sinks(config: RunConfig, stimuli: StimulusSet, key: str | None, progress) -> bool:
    """Sink statistics into ``sink_stats`` when the database lacks them; measured first
    (loading the model) only when they are not cached.  Whether the model was loaded."""
    if (
        key is None
        or not store.sink_stats(config.db, model=config.name, stimulus_set=stimuli.name).empty
    ):
        return False
    stats = sink_cache.load(key)
    loaded = stats is None
    if loaded:
        progress("load", 0, 1)
        model = _load_model(config)
        progress("load", 1, 1)
        plan = plan_tokens(
            model.tokenizer,
            stimuli,
            max_length=getattr(model.config, "max_position_embeddings", None),
            chat_template=config.chat_template,
        )
        stats = measure_sinks(model, plan)
        sink_cache.save(key, stats)
    store.write_sink_stats(config.db, model=config.name, stimulus_set=stimuli.name, stats=stats)
    return loaded


def _has_components(entry: Activations, config: RunConfig) -> bool:
    return all(c in entry.arrays for c in config.components)


# --------------------------------------------------------------------------- the run
def run(config: RunConfig, *, progress: Progress | None = None) -> RunReport:
    """Extract (cached), probe (cached) and store one model × stimulus set.

    Raises
    ------
    ModelError, StimulusError, ExtractionError, StoreError, FoldError
        Each with one line naming the problem.
    """
    progress = progress or _silent
    timings: dict[str, float] = {}
    prepared = prepare(config)
    stimuli, keys = prepared.stimuli, prepared.keys
    bind_to_parent()  # probe workers exit with this run, however it ends
    probe_keys = {p: _probe_key(k, stimuli, config) for p, k in keys.items()}
    report = RunReport(
        model=config.name,
        stimulus_set=stimuli.name,
        poolings=prepared.poolings,
        n_items=len(stimuli),
        n_layers=0,
        loaded_model=False,
        extracted=False,
        probed=[],
        timings=timings,
        run_ids={},
    )
    todo = []
    for pooling in prepared.poolings:
        stored = store.latest_run(config.db, config.name, stimuli.name, pooling)
        if (
            not config.force
            and stored is not None
            and stored.get("settings", {}).get("probe_key") == probe_keys[pooling]
        ):
            report.run_ids[pooling] = stored["run_id"]
            report.n_layers = int(stored["n_layers"])
        else:
            todo.append(pooling)
    sink_key = _sink_key(config, stimuli, prepared.model)
    if not todo:
        report.loaded_model = _record_sinks(config, stimuli, sink_key, progress)
        return report
    started = time.perf_counter()
    baselines = surface_baselines(config, prepared)  # the same for every pooling; no model
    timings["baselines"] = time.perf_counter() - started
    cache = ActivationCache()
    acts = {p: cache.load(keys[p]) for p in todo}
    acts = {p: a for p, a in acts.items() if a is not None and _has_components(a, config)}
    missing = {p: keys[p] for p in todo if p not in acts}
    if missing:
        acts.update(
            extract_missing(config, stimuli, missing, cache, progress, timings, sink_key=sink_key)
        )
        report.loaded_model = report.extracted = True
    n_jobs = (os.cpu_count() or 1) if config.jobs == -1 else config.jobs
    for pooling in todo:
        entry = acts[pooling]
        report.n_layers = entry.n_layers
        started = time.perf_counter()
        cells = CellStore(probe_keys[pooling])
        results = probe_grid(
            {c: entry.arrays[c] for c in config.components},
            stimuli,
            config.probe,
            n_jobs=n_jobs,
            backend=config.joblib_backend,
            done={} if config.force else cells.load(),
            on_cell=lambda cell, result, n, total, cells=cells: (
                cells.save(cell, result),
                progress("probe", n, total),
            ),
        )
        timings[f"probe_{pooling}"] = time.perf_counter() - started
        started = time.perf_counter()
        progress("store", 0, 1)
        run_id = _store(
            config, stimuli, pooling, entry, results, probe_keys[pooling], timings, baselines
        )
        progress("store", 1, 1)
        timings[f"store_{pooling}"] = time.perf_counter() - started
        report.probed.append(pooling)
        report.run_ids[pooling] = run_id
    report.loaded_model |= _record_sinks(config, stimuli, sink_key, progress)
    return report


def surface_baselines(config: RunConfig, prepared: Prepared) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every target's probe on the stimuli's surface features: scores and fold scores.

    Needs the model's tokenizer (for token counts), never its weights; a remote model's
    tokenizer is read from the local hub cache when it is there, else token counts are
    left out.  Same folds and solvers as the layer probes (:mod:`core.probe.baselines`).

    Returns
    -------
    scores, folds : DataFrame
        ``baseline_scores`` and ``baseline_fold_scores`` rows without the result key.
    """
    from core.errors import ModelError
    from core.lm.budget import read_light
    from core.lm.loading import load_tokenizer
    from core.probe.baselines import probe_baselines
    from core.stimuli.surface import surface_features

    if config.remote:
        try:
            tokenizer = load_tokenizer(config.model)
        except ModelError:
            tokenizer = None
    else:
        tokenizer = read_light(prepared.model).tokenizer
    features = surface_features(prepared.stimuli, tokenizer)
    return probe_baselines(features, prepared.stimuli, config.probe)


def _store(config, stimuli, pooling, entry, results, probe_key, timings, baselines) -> str:
    """Write one pooling's results and its run record in one transaction; its run id."""
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
        "model": config.name,
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
            "item_predictions": results.predictions,
            "baseline_scores": baselines[0],
            "baseline_fold_scores": baselines[1],
        },
    )
    return run_id


def activations_for(
    config: RunConfig, stimuli: StimulusSet, *, progress: Progress | None = None
) -> Activations:
    """Cached activations of the config's first pooling, extracted first when missing.

    For what needs the vectors themselves (export, CKA, benchmarks) rather than probes.

    Returns
    -------
    Activations
        Arrays of shape (n_items, n_layers, d_model) per component, rows in stimulus order.
    """
    pooling = config.poolings[0]
    model = model_id(config)
    key = activation_keys(config, stimuli, model)[pooling]
    cache = ActivationCache()
    if not cache.has(key):
        _check_extraction(config, stimuli, model, [pooling])
    entry = cache.load(key)
    if entry is not None and _has_components(entry, config):
        return entry
    missing = {pooling: key}
    return extract_missing(config, stimuli, missing, cache, progress or _silent, {})[pooling]


def run_transfer(
    config: RunConfig,
    test_set: str,
    *,
    target: str | None = None,
    matrix_component: str | None = "resid_pre",
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Train on ``config.stimuli``, test on ``test_set``; store ``transfer_scores``.

    Everything that can be refused is checked first (both sets, a shared target, the
    matrix component, the database); activations come from the cache (extracted when
    missing, as :func:`activations_for`).  The probe settings are those of the training
    set's stored run when there is one (same folds, seed, C, alphas), else the config's.

    Returns
    -------
    DataFrame
        The rows written (:data:`core.probe.transfer.COLUMNS` and the run columns).

    Raises
    ------
    StrataError
        One line naming the problem, before any work.
    """
    from core.errors import ConfigError
    from core.probe import ProbeSettings
    from core.probe.transfer import shared_targets, transfer

    if matrix_component is not None and matrix_component not in config.components:
        raise ConfigError(
            f"matrix component '{matrix_component}' is not one of {', '.join(config.components)}"
        )
    store.check_writable(config.db)
    train = load_stimuli(config.stimuli, n_folds=config.probe.folds)
    test = load_stimuli(test_set, n_folds=config.probe.folds)
    if train.name == test.name:
        raise ConfigError(
            f"--train and --test are both '{train.name}': its within-set curve is on the "
            "Layer curves page"
        )
    shared_targets(train, test, target)
    pooling = config.poolings[0]
    stored = store.latest_run(config.db, config.name, train.name, pooling)
    settings = config.probe
    if stored and stored.get("settings"):
        known = {
            f: stored["settings"][f] for f in ProbeSettings().to_dict() if f in stored["settings"]
        }
        settings = ProbeSettings.from_dict({**known, "device": "cpu"})
    progress = progress or _silent
    progress("load", 0, 2)
    train_acts = activations_for(config, train)
    progress("load", 1, 2)
    test_config = RunConfig.from_dict({**config.to_dict(), "stimuli": test_set})
    test_acts = activations_for(test_config, test)
    progress("load", 2, 2)
    frame = transfer(
        train_acts.arrays,
        test_acts.arrays,
        train,
        test,
        settings=settings,
        target=target,
        matrix_component=matrix_component,
        n_jobs=config.jobs,
    )
    frame = frame.assign(
        train_hash=train.content_hash,
        test_hash=test.content_hash,
        settings=json.dumps(settings.to_dict()),
        finished_at=datetime.now(UTC).replace(tzinfo=None),
    )
    key = {"model": config.name, "train_set": train.name, "test_set": test.name, "pooling": pooling}
    progress("store", 0, 1)
    store.write_transfer(config.db, frame, key=key)
    progress("store", 1, 1)
    return frame.assign(**key)
