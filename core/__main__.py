"""The command line: ``python -m core models|stimuli|run|export|...``.

Bad input ends with one line on stderr starting ``error:`` and a non-zero exit; set
``STRATA_DEBUG=1`` to see the traceback of an unexpected failure.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from core.errors import ConfigError, StrataError, first_line

EXIT_BAD_INPUT = 2


def _parse_memory(text: str | None) -> dict | None:
    """``0=70GiB,cpu=100GiB`` → ``{0: "70GiB", "cpu": "100GiB"}`` for accelerate."""
    if not text:
        return None
    out: dict = {}
    for part in text.split(","):
        device, _, amount = part.partition("=")
        if not amount:
            raise ConfigError(f"--max-memory part '{part}' is not DEVICE=AMOUNT (e.g. 0=70GiB)")
        out[int(device) if device.strip().isdigit() else device.strip()] = amount.strip()
    return out


def _parse_device_map(text: str | None):
    """``auto``/``balanced``/... as is; a JSON object as a module → device dict."""
    if not text or not text.lstrip().startswith("{"):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--device-map is not valid JSON: {exc.msg}") from None


class _Bars:
    """tqdm bars per stage on stderr, and an optional JSON file the app polls."""

    def __init__(self, quiet: bool, json_path: str | None):
        self.quiet, self.json_path = quiet, json_path
        self.bars: dict = {}
        self.started: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.time()
        self.started.setdefault(stage, now)
        if not self.quiet:
            from tqdm import tqdm

            bar = self.bars.get(stage)
            if bar is None:
                unit = {"extract": "text", "probe": "cell"}.get(stage, "step")
                bar = self.bars[stage] = tqdm(total=total, desc=stage, unit=unit, file=sys.stderr)
            bar.n = done
            bar.refresh()
            if done >= total:
                bar.close()
        if self.json_path:
            elapsed = now - self.started[stage]
            eta = elapsed / done * (total - done) if done else None
            payload = {"stage": stage, "done": done, "total": total, "eta_s": eta, "time": now}
            tmp = f"{self.json_path}.tmp"
            Path(tmp).write_text(json.dumps(payload))
            os.replace(tmp, self.json_path)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _cmd_models(args) -> None:
    from core.models import describe

    for alias, description in describe():
        print(f"{alias}\t{description}" if args.verbose else alias)


def _cmd_stimuli(args) -> None:
    from core.stimuli import builtin_names, load, upload_names

    for name in builtin_names() + upload_names():
        if args.verbose:
            stimuli = load(name)
            kinds = ", ".join(f"{t}:{k}" for t, k in stimuli.targets.items())
            print(f"{name}\t{len(stimuli)} items\t{kinds}")
        else:
            print(name)


def _cmd_run(args) -> None:
    from core.pipeline import RunConfig, run
    from core.probe import ProbeSettings

    bars = _Bars(args.quiet, args.progress_json)
    probe = ProbeSettings(
        n_folds=args.folds,
        seed=args.seed,
        n_perm=args.permutations,
        svm_null_layers=None if args.svm_null_layers == 0 else args.svm_null_layers,
        n_half_splits=args.half_splits,
    )
    try:
        for stimuli in args.stimuli:
            config = RunConfig(
                model=args.model,
                stimuli=stimuli,
                poolings=tuple(args.pooling),
                label=args.label,
                dtype=args.dtype,
                quantization=args.quantization,
                device_map=_parse_device_map(args.device_map),
                max_memory=_parse_memory(args.max_memory),
                store_dtype=args.store_dtype,
                components=tuple(args.components),
                probe=probe,
                n_jobs=args.jobs,
                joblib_backend=args.joblib_backend,
                batch_tokens=args.batch_tokens,
                chunk_items=args.chunk_items,
                force=args.force,
                backend=args.backend,
                remote=args.remote,
                chat_template=args.chat_template,
                db=args.db,
            )
            report = run(config, progress=bars)
            what = "computed" if report.probed else "already in the results database"
            loaded = "model loaded" if report.loaded_model else "model not loaded"
            timing = ", ".join(f"{k} {v:.1f}s" for k, v in report.timings.items())
            print(
                f"{report.model} × {report.stimulus_set} ({', '.join(report.poolings)}): "
                f"{report.n_items} items, {report.n_layers} layers; {what}; {loaded}"
                + (f"; {timing}" if timing else ""),
                file=sys.stderr,
            )
    finally:
        bars.close()


def _cmd_export(args) -> None:
    from core.pipeline import export

    out = export(
        args.model,
        args.stimuli,
        args.out,
        pooling=args.pooling,
        dtype=args.dtype,
        progress=_Bars(args.quiet, None),
    )
    print(out)


def _cmd_results(args) -> None:
    from core.store import results_index

    frame = results_index(args.db)
    if frame.empty:
        print("no results yet: run `python -m core run --model smollm2-135m --stimuli items`")
    else:
        print(frame.to_string(index=False))


def _cmd_report(args) -> None:
    from core.report import text
    from core.views import findings

    tables = findings(
        args.db, model=args.model, pooling=args.pooling, components=tuple(args.components)
    )
    print(text(tables, model=args.model, pooling=args.pooling))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name, table in tables.items():
            table.to_csv(out / f"{name}.csv", index=False)
        print(f"tables written to {out}/", file=sys.stderr)


def _cmd_export_results(args) -> None:
    from core.store import export_results

    n = export_results(args.db, args.out, model=args.model, stimulus_set=args.stimuli)
    print(f"{n} results written to {args.out}")


def _cmd_import_results(args) -> None:
    from core.store import import_results

    keys = import_results(args.db, args.file)
    for model, stimulus_set, pooling in keys:
        print(f"merged {model} × {stimulus_set} ({pooling})")


def _cmd_upload(args) -> None:
    from core.stimuli import StimulusError, save_upload

    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise StimulusError(f"cannot read '{args.file}': {exc.strerror}") from None
    stimuli = save_upload(data, args.name, n_folds=args.folds)
    print(f"{stimuli.name}: {len(stimuli)} items, targets {', '.join(stimuli.targets)}")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one ``error:`` line like every other bad input."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see `{self.prog} --help`)\n")


def parser() -> argparse.ArgumentParser:
    from core.extract import POOLINGS
    from core.models import COMPONENTS, DEFAULT_MODEL, DTYPES

    top = _Parser(
        prog="python -m core", description="Strata: where in a model's depth meaning lives."
    )
    sub = top.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("models", help="list model aliases")
    p.add_argument("-v", "--verbose", action="store_true", help="with descriptions")
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser("stimuli", help="list stimulus sets (built-in, then uploads)")
    p.add_argument("-v", "--verbose", action="store_true", help="with sizes and targets")
    p.set_defaults(func=_cmd_stimuli)

    def common(p, many: bool) -> None:
        p.add_argument("--model", default=DEFAULT_MODEL, help="alias, hub id, directory or .gguf")
        p.add_argument(
            "--stimuli", nargs="+" if many else None, required=True, help="set name or CSV path"
        )
        p.add_argument("--dtype", choices=DTYPES, default="float32")
        p.add_argument("--quiet", action="store_true", help="no progress bars")

    p = sub.add_parser("run", help="extract, probe and store results")
    common(p, many=True)
    p.add_argument("--pooling", nargs="+", choices=POOLINGS, default=["mean"])
    p.add_argument("--db", help="results database (default cache/strata.duckdb)")
    p.add_argument("--components", nargs="+", choices=COMPONENTS, default=list(COMPONENTS))
    p.add_argument("--label", help="the model's name in the results (default: --model)")
    p.add_argument("--quantization", choices=["none", "8bit", "4bit"], default="none")
    p.add_argument(
        "--device-map", help="accelerate device map: auto, balanced, sequential, or JSON"
    )
    p.add_argument("--max-memory", help="per-device limits, e.g. 0=70GiB,1=70GiB,cpu=200GiB")
    p.add_argument("--store-dtype", choices=["float32", "float16"], default="float32")
    p.add_argument("--permutations", type=int, default=20, help="label permutations (null)")
    p.add_argument(
        "--svm-null-layers",
        type=int,
        default=3,
        help="evenly spaced layers whose SVM nulls are refitted (0: every layer)",
    )
    p.add_argument("--half-splits", type=int, default=1, help="random group halvings")
    p.add_argument("--folds", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=-1, help="probe cells in parallel (-1: all cores)")
    p.add_argument("--joblib-backend", default="loky", help="loky, or ray/dask on a cluster")
    p.add_argument("--batch-tokens", type=int, default=8192)
    p.add_argument("--chunk-items", type=int, default=512, help="texts per saved chunk")
    p.add_argument("--force", action="store_true", help="recompute probes even if stored")
    p.add_argument("--backend", choices=["hooks", "nnsight"], default="hooks")
    p.add_argument(
        "--remote", action="store_true", help="run on NDIF through nnsight (needs NDIF_API_KEY)"
    )
    p.add_argument(
        "--chat-template", action="store_true", help="wrap texts in the model's chat template"
    )
    p.add_argument("--progress-json", help=argparse.SUPPRESS)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("export", help="write activations.npz, stimuli.csv, targets.json")
    common(p, many=False)
    p.add_argument("--pooling", choices=POOLINGS, default="mean")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("results", help="list what the results database holds")
    p.add_argument("--db")
    p.set_defaults(func=_cmd_results)

    p = sub.add_parser("report", help="what a model's results say: peaks, double peaks, ρ, order")
    p.add_argument("--model", default=DEFAULT_MODEL, help="the model's name in the results")
    p.add_argument("--pooling", choices=POOLINGS, default="mean")
    p.add_argument("--components", nargs="+", choices=COMPONENTS, default=list(COMPONENTS))
    p.add_argument("--db")
    p.add_argument("--out", help="also write each table as CSV into this directory")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("export-results", help="copy results into a DuckDB file that travels")
    p.add_argument("--db")
    p.add_argument("--out", required=True)
    p.add_argument("--model", nargs="+", help="only these models")
    p.add_argument("--stimuli", nargs="+", help="only these stimulus sets")
    p.set_defaults(func=_cmd_export_results)

    p = sub.add_parser("import-results", help="merge a results file into the database")
    p.add_argument("file")
    p.add_argument("--db")
    p.set_defaults(func=_cmd_import_results)

    p = sub.add_parser("upload", help="validate a stimulus CSV and keep it under a name")
    p.add_argument("name")
    p.add_argument("file")
    p.add_argument("--folds", type=int, default=6)
    p.set_defaults(func=_cmd_upload)
    return top


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except StrataError as exc:
        print(f"error: {first_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("error: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("STRATA_DEBUG"):
            raise
        print(
            f"error: unexpected {type(exc).__name__}: {first_line(exc)} "
            "(set STRATA_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
