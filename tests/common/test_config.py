"""Config system: YAML deltas over frozen dataclasses, --set overrides, strict errors."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from common.config import ConfigError, dump_yaml, load_config, parse_override, to_dict
from tests.conftest import REPO


@dataclass(frozen=True)
class OptimCfg:
    learning_rate: float = 1e-3
    max_grad_norm: float = 1.0
    schedule: str = "adaptive"


@dataclass(frozen=True)
class DemoCfg:
    seed: int = 42
    hidden_dims: tuple[int, ...] = (512, 256, 128)
    command_range: tuple[float, float] = (-1.0, 1.0)
    use_normalizer: bool = False
    note: str | None = None
    optim: OptimCfg = field(default_factory=OptimCfg)


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "delta.yaml"
    path.write_text(text)
    return path


def test_yaml_holds_only_differences_and_set_wins(tmp_path: Path) -> None:
    delta = _yaml(tmp_path, "optim:\n  learning_rate: 3.0e-4\nhidden_dims: [64, 64]\n")
    cfg = load_config(DemoCfg, [delta], ["optim.learning_rate=1e-4", "seed=7"])
    assert cfg.optim.learning_rate == 1e-4 and cfg.seed == 7
    assert cfg.hidden_dims == (64, 64)
    assert cfg.optim.max_grad_norm == 1.0  # untouched default
    assert DemoCfg().optim.learning_rate == 1e-3  # defaults never mutated


def test_dump_and_load_back_is_equal(tmp_path: Path) -> None:
    cfg = load_config(DemoCfg, overrides=["note=hello", "command_range=[0, 1]"])
    path = tmp_path / "resolved.yaml"
    dump_yaml(cfg, path)
    assert load_config(DemoCfg, [path]) == cfg
    assert to_dict(cfg)["command_range"] == [0.0, 1.0]


def test_unknown_key_names_full_path_and_closest_names(tmp_path: Path) -> None:
    delta = _yaml(tmp_path, "optim:\n  learnig_rate: 0.1\n")
    with pytest.raises(
        ConfigError,
        match=r"unknown config key 'optim.learnig_rate'; "
        r"did you mean 'optim.learning_rate'\?",
    ):
        load_config(DemoCfg, [delta])


def test_unknown_key_without_close_match_lists_valid_keys() -> None:
    with pytest.raises(ConfigError, match="valid keys: 'optim.learning_rate'"):
        load_config(DemoCfg, overrides=["optim.zzz=1"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("seed=abc", "'seed' must be an integer, got 'abc'"),
        ("seed=1.5", "'seed' must be an integer"),
        ("use_normalizer=3", "'use_normalizer' must be true or false"),
        ("optim.learning_rate=fast", "'optim.learning_rate' must be a number"),
        ("command_range=[1, 2, 3]", "'command_range' must have 2 items, got 3"),
        ("hidden_dims=[64, x]", r"'hidden_dims\[1\]' must be an integer"),
        ("optim=5", "'optim' must be a mapping"),
        ("noequals", "must look like key.path=value"),
    ],
)
def test_wrong_types_are_rejected_with_the_key(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(DemoCfg, overrides=[override])


def test_malformed_yaml_reports_file_and_line(tmp_path: Path) -> None:
    delta = _yaml(tmp_path, "seed: 1\noptim: [unclosed\n")
    with pytest.raises(ConfigError, match=r"is not valid YAML at line 3"):
        load_config(DemoCfg, [delta])


def test_yaml_is_read_safely(tmp_path: Path) -> None:
    delta = _yaml(tmp_path, "note: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(DemoCfg, [delta])


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(DemoCfg, [tmp_path / "nope.yaml"])
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(DemoCfg, [_yaml(tmp_path, "- 1\n- 2\n")])


def test_override_values_are_parsed_as_yaml() -> None:
    assert parse_override("a.b=[1, 2]") == {"a": {"b": [1, 2]}}
    assert parse_override("x=0.5") == {"x": 0.5}
    assert load_config(DemoCfg, overrides=["optim.learning_rate=3e-4"]).optim.learning_rate == 3e-4


def test_cli_prints_one_sentence_and_exits_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "robots", "g1"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "python -m robots: error: unknown robot 'g1'; known robots: go2, h1"
    ]
    assert "Traceback" not in result.stderr
