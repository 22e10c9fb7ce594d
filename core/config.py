"""What a run does, as one typed, validated record: from the Run page or the CLI to the solver.

:class:`RunConfig` is the only place a run's settings are checked.  The command line and the
app both build one; the app's job runner sends it to the background process as JSON
(:meth:`RunConfig.to_dict` / :meth:`RunConfig.from_dict`), so a setting keeps one name and
one type from the page to the probe solver.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from core.errors import ConfigError
from core.lm.identity import DTYPES, QUANTIZATIONS
from core.names import COMPONENTS, HALF_POOLINGS, POOLINGS, half_words
from core.probe import ProbeSettings
from core.probe.backends import BACKENDS as JOBLIB_BACKENDS

EXTRACTION_BACKENDS: tuple[str, ...] = ("hooks", "nnsight")
STORE_DTYPES: tuple[str, ...] = ("float32", "float16")


def _one_of(name: str, value, allowed: tuple) -> None:
    if value not in allowed:
        raise ConfigError(f"unknown {name} '{value}'; use one of {', '.join(map(str, allowed))}")


@dataclass(frozen=True)
class RunConfig:
    """What a run does; recorded with its results.

    Attributes
    ----------
    model : str
        Alias, hub id, local directory or GGUF path.
    stimuli : str
        Built-in set, upload name or CSV path.
    poolings : tuple of str
        One result per pooling, all from one forward pass (:data:`core.names.POOLINGS`).
    label : str, optional
        The model's name in the results (default: ``model``), e.g. to keep a bfloat16 and
        a float32 run of one model apart.
    dtype, quantization, device_map, max_memory
        How the model is loaded.
    store_dtype : {"float32", "float16"}
        How activations are kept on disk.
    components : tuple of str
        Which of resid_pre, attn_out, mlp_out to extract and probe.
    probe : ProbeSettings
        Folds, C, alphas, permutations, half splits (validated by :class:`ProbeSettings`).
    jobs : int
        Probe cells fitted in parallel (-1: all cores).
    joblib_backend : str
        ``loky`` here; ``ray`` or ``dask`` on a cluster.
    batch_tokens, max_batch : int
        Extraction batch budget (padded tokens, texts).
    chunk_items : int
        Texts per saved extraction chunk (the resume granularity).
    force : bool
        Recompute probes even when a matching result is stored.
    db : str, optional
        The results database (default ``cache/strata.duckdb``).
    backend : {"hooks", "nnsight"}
        PyTorch forward hooks, or the same modules traced with nnsight.
    remote : bool
        Run the model on NDIF through nnsight (hub ids only; needs NDIF_API_KEY).
    chat_template : bool
        Wrap each text in the tokenizer's chat template as a user turn.
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
    jobs: int = -1
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
        if not self.poolings:
            raise ConfigError("choose at least one pooling")
        for pooling in self.poolings:
            _one_of("pooling", pooling, POOLINGS)
        if not self.components:
            raise ConfigError("choose at least one component")
        for component in self.components:
            _one_of("component", component, COMPONENTS)
        _one_of("dtype", self.dtype, DTYPES)
        _one_of("quantization", self.quantization, QUANTIZATIONS)
        _one_of("store dtype", self.store_dtype, STORE_DTYPES)
        _one_of("backend", self.backend, EXTRACTION_BACKENDS)
        _one_of("joblib backend", self.joblib_backend, JOBLIB_BACKENDS)
        if self.remote and self.backend != "nnsight":
            raise ConfigError("remote execution runs through nnsight: add --backend nnsight")
        for name in ("batch_tokens", "max_batch", "chunk_items"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} must be at least 1")
        if self.jobs == 0 or self.jobs < -1:
            raise ConfigError(f"jobs={self.jobs}: use a positive number, or -1 for all cores")

    @property
    def name(self) -> str:
        """The model's name in the results."""
        return self.label or self.model

    def to_dict(self) -> dict:
        """Plain JSON-able values (the job runner's wire format)."""
        out = asdict(self)
        out["poolings"] = list(self.poolings)
        out["components"] = list(self.components)
        out["probe"] = self.probe.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """Inverse of :meth:`to_dict`; validates like the constructor.

        Raises
        ------
        ConfigError
            For an unknown setting or a value out of range.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown run setting(s): {', '.join(unknown)}")
        values = dict(data)
        for name in ("poolings", "components"):
            if name in values:
                values[name] = tuple(values[name])
        if isinstance(values.get("probe"), dict):
            values["probe"] = ProbeSettings.from_dict(values["probe"])
        return cls(**values)


def word_count(stimuli) -> int | None:
    """The number of target words every row of a stimulus set has; ``None`` when rows differ."""
    counts = {len(spans) for spans in stimuli.spans}
    return counts.pop() if len(counts) == 1 else None


def run_poolings(poolings: tuple[str, ...], stimuli) -> tuple[str, ...]:
    """The poolings a run of ``stimuli`` computes: those asked for, plus the half controls.

    The half-stimulus controls (:data:`core.names.HALF_POOLINGS`) are added by default
    beside ``mean`` when every row has four (``mean_ab``, ``mean_cd``) or two (``mean_x``,
    ``mean_y``) target words; they come from the same forward pass.  Checked here, once,
    before any work, because only the stimuli tell how many words a row has.

    Parameters
    ----------
    poolings : tuple of str
        The config's poolings (already valid names).
    stimuli : StimulusSet

    Returns
    -------
    tuple of str
        ``poolings`` followed by the added halves, without repeats.

    Raises
    ------
    ConfigError
        For a half pooling asked for on a set whose rows lack its number of target words.
    """
    n_words = word_count(stimuli)
    for pooling in poolings:
        half = half_words(pooling)
        if half is not None and n_words != half[0]:
            have = f"{n_words}" if n_words is not None else "differing numbers of"
            raise ConfigError(
                f"pooling '{pooling}' needs {half[0]} target words per row; stimulus set "
                f"'{stimuli.name}' has {have} target word(s) per row: drop --pooling {pooling}"
            )
    added = tuple(HALF_POOLINGS.get(n_words, {})) if "mean" in poolings else ()
    return tuple(dict.fromkeys((*poolings, *added)))
