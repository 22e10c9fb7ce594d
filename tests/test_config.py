"""RunConfig: every setting checked once, by name, and the JSON round trip the app relies on."""

from __future__ import annotations

import json

import pytest

from core.config import RunConfig
from core.errors import ConfigError
from core.probe import ProbeSettings


def test_json_round_trip_keeps_every_setting_and_type():
    config = RunConfig(
        model="smollm2-135m",
        stimuli="pairs",
        poolings=("mean", "last"),
        components=("attn_out",),
        probe=ProbeSettings(permutations=7, half_splits=2, seed=3),
        device_map={"layers.0": "cpu"},
        label="smol",
    )
    wire = json.loads(json.dumps(config.to_dict()))
    back = RunConfig.from_dict(wire)
    assert back == config
    assert isinstance(back.poolings, tuple) and isinstance(back.probe, ProbeSettings)
    assert back.probe.permutations == 7 and back.name == "smol"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"poolings": ("max",)}, "unknown pooling 'max'"),
        ({"poolings": ()}, "choose at least one pooling"),
        ({"components": ("resid_post",)}, "unknown component 'resid_post'"),
        ({"dtype": "int8"}, "unknown dtype 'int8'"),
        ({"backend": "tl"}, "unknown backend 'tl'"),
        ({"remote": True}, "remote execution runs through nnsight"),
        ({"jobs": 0}, "jobs=0"),
        ({"chunk_items": 0}, "chunk_items=0 must be at least 1"),
    ],
)
def test_bad_settings_are_refused_by_name(change, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig(model="m", stimuli="s", **change)


def test_an_unknown_setting_from_the_wire_is_refused():
    with pytest.raises(ConfigError, match="unknown run setting"):
        RunConfig.from_dict({"model": "m", "stimuli": "s", "perms": 5})
    with pytest.raises(ConfigError, match="unknown probe setting"):
        RunConfig.from_dict({"model": "m", "stimuli": "s", "probe": {"n_perm": 5}})
