"""Model names: the embedded aliases and the one-line errors for names that resolve to nothing."""

from __future__ import annotations

import pytest

from core import lm as models


def test_aliases_include_the_two_embedded_models():
    assert {"smollm2-135m", "gemma3-270m"} <= set(models.ALIASES)
    assert models.DEFAULT_MODEL == "smollm2-135m"


@pytest.mark.parametrize(
    "name, message",
    [
        ("no-such-model", "unknown model 'no-such-model'"),
        ("./missing/dir", "is not a directory with config.json"),
        ("/tmp/definitely-missing.gguf", "does not exist"),
    ],
)
def test_unknown_names_fail_with_one_clear_line(name, message):
    with pytest.raises(models.ModelError, match=message):
        models.resolve(name)


def test_directory_without_config_is_refused(tmp_path):
    with pytest.raises(models.ModelError, match=r"has no config\.json"):
        models.resolve(str(tmp_path))
