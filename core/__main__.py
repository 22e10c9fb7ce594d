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
    """A tqdm bar per stage on stderr (none with ``--quiet``)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bars: dict = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            unit = {"extract": "text", "probe": "cell"}.get(stage, "step")
            bar = self.bars[stage] = tqdm(total=total, desc=stage, unit=unit, file=sys.stderr)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _cmd_models(args) -> None:
    from core.lm import describe

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


def _config(args, stimuli: str, *, poolings: list[str]):
    """The :class:`RunConfig` a command line asks for; it validates every setting."""
    from core.config import RunConfig
    from core.probe import ProbeSettings

    probe = ProbeSettings()
    if args.command == "run":
        probe = ProbeSettings(
            folds=args.folds,
            seed=args.seed,
            permutations=args.permutations,
            half_splits=args.half_splits,
            device=args.device,
        )
    run_only = {
        name: getattr(args, name)
        for name in ("label", "jobs", "joblib_backend", "force", "db")
        if hasattr(args, name)
    }
    return RunConfig(
        model=args.model,
        stimuli=stimuli,
        poolings=tuple(poolings),
        dtype=args.dtype,
        quantization=args.quantization,
        device_map=_parse_device_map(args.device_map),
        max_memory=_parse_memory(args.max_memory),
        store_dtype=args.store_dtype,
        components=tuple(args.components),
        probe=probe,
        batch_tokens=args.batch_tokens,
        chunk_items=args.chunk_items,
        backend=args.backend,
        remote=args.remote,
        chat_template=args.chat_template,
        **run_only,
    )


def _cmd_run(args) -> None:
    from core.lm.loading import one_gguf_parse
    from core.pipeline import prepare, run

    # every set's settings and inputs are checked before the first set does any work
    configs = [_config(args, stimuli, poolings=args.pooling) for stimuli in args.stimuli]
    with one_gguf_parse():  # a GGUF is parsed once, for the checks and the conversion
        for config in configs:
            prepare(config)
        bars = _Bars(args.quiet)
        try:
            for config in configs:
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
    from core.export import export

    config = _config(args, args.stimuli, poolings=[args.pooling])
    print(export(config, args.out, progress=_Bars(args.quiet)))


def _cmd_results(args) -> None:
    from core.present.views import results_index
    from core.storage.store import check_exists

    if args.db is not None:  # a mistyped --db must not read as "no results yet"
        check_exists(args.db)
    frame = results_index(args.db).drop(columns="stimuli_hash")
    if frame.empty:
        print("no results yet: run `python -m core run --model smollm2-135m --stimuli items`")
    else:
        print(frame.to_string(index=False))


def _cmd_report(args) -> None:
    from core.export import check_out_dir
    from core.present.report import text
    from core.present.views import findings
    from core.safe_csv import to_csv
    from core.storage.store import check_exists

    if args.db is not None:
        check_exists(args.db)
    if args.out:
        check_out_dir(args.out)
    tables = findings(
        args.db, model=args.model, pooling=args.pooling, components=tuple(args.components)
    )
    print(text(tables, model=args.model, pooling=args.pooling))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name, table in tables.items():  # safe to open in a spreadsheet
            to_csv(table, out / f"{name}.csv")
        print(f"tables written to {out}/", file=sys.stderr)


def _cmd_deck(args) -> None:
    from core.export import check_out_dir
    from core.present.deck import build
    from core.storage.store import check_exists

    if args.db is not None:  # a mistyped --db must not read as "no results"
        check_exists(args.db)
    check_out_dir(args.out)
    files = build(
        args.db,
        model=args.model,
        compare=args.compare,
        pooling=args.pooling,
        out=args.out,
        reference_files=args.reference or (),
        pdf=not args.no_pdf,
    )
    print(files.html)
    for path in files.images:
        print(path)
    if files.pdf is not None:
        print(files.pdf)
    for note in (files.image_note, files.pdf_note):
        if note:
            print(note, file=sys.stderr)


def _cmd_export_results(args) -> None:
    from core.storage.store import export_results

    n = export_results(args.db, args.out, model=args.model, stimulus_set=args.stimuli)
    print(f"{n} results written to {args.out}")


def _cmd_import_results(args) -> None:
    from core.storage.store import import_results

    keys = import_results(args.db, args.file)
    for model, stimulus_set, pooling in keys:
        print(f"merged {model} × {stimulus_set} ({pooling})")


def _cmd_audit(args) -> None:
    from core.errors import ModelError
    from core.stimuli import load
    from core.stimuli.audit import audit, load_wordnet, text

    if args.folds < 2:
        raise ConfigError(f"folds={args.folds}: the audit's grouped folds need at least 2")
    sets = [load(name, n_folds=args.folds) for name in args.stimuli]  # bad names fail first
    tokenizer = None
    if args.tokenizer != "none":
        from core.lm.loading import load_tokenizer

        try:
            tokenizer = load_tokenizer(args.tokenizer)
        except ModelError as exc:
            print(f"warning: token counts not checked: {first_line(exc)}", file=sys.stderr)
    wordnet = load_wordnet()
    failed = 0
    for stimuli in sets:
        result = audit(stimuli, tokenizer=tokenizer, wordnet=wordnet, n_folds=args.folds)
        print(text(result) + "\n")
        failed += not result.passed
    if failed and args.strict:
        raise SystemExit(1)


def _cmd_transfer(args) -> None:
    from core.config import RunConfig
    from core.pipeline import run_transfer
    from core.present.transfer import transfer_summary

    config = RunConfig(
        model=args.model,
        stimuli=args.train,
        poolings=(args.pooling,),
        dtype=args.dtype,
        db=args.db,
        jobs=args.jobs,
        label=args.label,
    )
    bars = _Bars(args.quiet)
    try:
        rows = run_transfer(
            config,
            args.test,
            target=args.target,
            matrix_component=args.matrix_component,
            progress=bars,
        )
    finally:
        bars.close()
    print(transfer_summary(rows, db=args.db).to_string(index=False))


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
    from core.lm import DEFAULT_MODEL, DTYPES
    from core.names import COMPONENTS, POOLINGS
    from core.probe import ProbeSettings

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

    def model_options(p, many: bool) -> None:
        """What to extract and how: shared by ``run`` and ``export``; RunConfig checks them."""
        p.add_argument("--model", default=DEFAULT_MODEL, help="alias, hub id, directory or .gguf")
        p.add_argument(
            "--stimuli", nargs="+" if many else None, required=True, help="set name or CSV path"
        )
        p.add_argument(
            "--pooling",
            nargs="+" if many else None,
            default=["mean"] if many else "mean",
            help=f"one of {', '.join(POOLINGS)}",
        )
        p.add_argument("--dtype", default="float32", help=f"one of {', '.join(DTYPES)}")
        p.add_argument("--quantization", default="none", help="none, 8bit or 4bit")
        p.add_argument(
            "--device-map", help="accelerate device map: auto, balanced, sequential, or JSON"
        )
        p.add_argument("--max-memory", help="per-device limits, e.g. 0=70GiB,1=70GiB,cpu=200GiB")
        p.add_argument("--store-dtype", default="float32", help="float32 or float16")
        p.add_argument(
            "--components", nargs="+", default=list(COMPONENTS), help=" ".join(COMPONENTS)
        )
        p.add_argument("--backend", default="hooks", help="hooks or nnsight")
        p.add_argument(
            "--remote", action="store_true", help="run on NDIF through nnsight (needs NDIF_API_KEY)"
        )
        p.add_argument(
            "--chat-template", action="store_true", help="wrap texts in the model's chat template"
        )
        p.add_argument("--batch-tokens", type=int, default=8192)
        p.add_argument("--chunk-items", type=int, default=512, help="texts per saved chunk")
        p.add_argument("--quiet", action="store_true", help="no progress bars")

    p = sub.add_parser("run", help="extract, probe and store results")
    model_options(p, many=True)
    p.add_argument("--db", help="results database (default cache/strata.duckdb)")
    p.add_argument("--label", help="the model's name in the results (default: --model)")
    p.add_argument(
        "--permutations",
        type=int,
        default=ProbeSettings.permutations,
        help="null labellings refitted at every layer (p-values per layer)",
    )
    p.add_argument(
        "--half-splits", type=int, default=ProbeSettings.half_splits, help="random group halvings"
    )
    p.add_argument(
        "--device",
        default=ProbeSettings.device,
        help="where the nulls' SVMs are solved: cpu (NumPy), cuda, cuda:N or mps (torch)",
    )
    p.add_argument("--folds", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=-1, help="probe cells in parallel (-1: all cores)")
    p.add_argument("--joblib-backend", default="loky", help="loky, or ray/dask on a cluster")
    p.add_argument("--force", action="store_true", help="recompute probes even if stored")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("export", help="write activations.npz, stimuli.csv, targets.json")
    model_options(p, many=False)
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

    p = sub.add_parser("deck", help="a talk deck: HTML, slide-ready PNG/SVG and a PDF")
    p.add_argument("--model", default=DEFAULT_MODEL, help="the model's name in the results")
    p.add_argument("--compare", help="a second model, beside the first on relative depth")
    p.add_argument("--pooling", choices=POOLINGS, default="mean")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument(
        "--reference", nargs="+", help="CSV files of other published results (see README)"
    )
    p.add_argument("--no-pdf", action="store_true", help="skip the PDF (Chromium print)")
    p.add_argument("--db")
    p.set_defaults(func=_cmd_deck)

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

    p = sub.add_parser("audit", help="check stimulus sets for confounds, leaks and balance")
    p.add_argument("stimuli", nargs="+", help="built-in or uploaded set names, or CSV paths")
    p.add_argument(
        "--tokenizer",
        default=DEFAULT_MODEL,
        help="model whose tokenizer counts tokens (loaded alone, no weights); 'none' to skip",
    )
    p.add_argument("--folds", type=int, default=6, help="grouped folds of the lookups")
    p.add_argument("--strict", action="store_true", help="exit 1 when a set has a warning")
    p.set_defaults(func=_cmd_audit)

    p = sub.add_parser("transfer", help="train probes on one stimulus set and test them on another")
    p.add_argument("--model", default=DEFAULT_MODEL, help="alias, hub id, directory or .gguf")
    p.add_argument("--train", required=True, help="stimulus set the probes are trained on")
    p.add_argument("--test", required=True, help="stimulus set they are tested on")
    p.add_argument("--target", help="one target both sets have (default: every shared one)")
    p.add_argument("--pooling", choices=POOLINGS, default="mean")
    p.add_argument(
        "--matrix-component",
        choices=COMPONENTS,
        default="resid_pre",
        help="component whose train layer × test layer matrix is scored",
    )
    p.add_argument("--dtype", default="float32", help=f"one of {', '.join(DTYPES)}")
    p.add_argument("--label", help="the model's name in the results (default: --model)")
    p.add_argument("--db", help="results database (default cache/strata.duckdb)")
    p.add_argument("--jobs", type=int, default=-1, help="train layers in parallel (-1: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_transfer)

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
