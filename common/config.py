"""Configs: frozen dataclasses hold defaults, YAML files hold differences, `--set` overrides.

    cfg = load_config(DeployCfg, ["configs/deploy/go2.yaml"], overrides=["safety.max_tilt_deg=45"])

Unknown keys are errors that name the full key path and the closest valid names; types are
checked; YAML is read with `safe_load` only; `dump_yaml` / `load_config` round-trip exactly.
Lives in `robots/` because it is the one package both training and deploy may import.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from common.compat import UNION_TYPES, type_hints, zip_strict
from common.errors import UserError
from common.files import write_text_atomic

T = TypeVar("T")


class ConfigError(UserError):
    """A config file or override that does not fit the config's schema."""


def check_fields(cfg: Any, names: Iterable[str], ok: Callable[[Any], bool], rule: str) -> None:
    """ConfigError naming the first field of `cfg` among `names` whose value fails `ok` (a
    config dataclass's __post_init__ calls it; load_config adds the file or --set it came from)."""
    for name in names:
        value = getattr(cfg, name)
        if not ok(value):
            raise ConfigError(f"{name} {rule}, got {value!r}")


def at_least_one(value: Any) -> bool:
    """A count that divides or indexes something: 1 or more."""
    return not isinstance(value, bool) and isinstance(value, int) and value >= 1


def positive(value: Any) -> bool:
    """A finite number above 0 (NaN and inf fail)."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and 0 < value < math.inf


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dict of builtins (tuples become lists) for YAML, JSON and checkpoints."""
    return _plain(cfg)


def from_dict(cls: type[T], data: Mapping[str, Any], path: str = "") -> T:
    """Build `cls` from `data`; every key must exist and every value fit its declared type."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{_where(path)} must be a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = type_hints(cls)
    _reject_unknown(data, fields, path)
    kwargs = {
        name: _convert(hints[name], data[name], _join(path, name))
        for name in fields
        if name in data
    }
    return cls(**kwargs)


def merge(cfg: T, data: Mapping[str, Any], path: str = "") -> T:
    """`cfg` with the (possibly partial, nested) values of `data` replaced; returns a new object."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{_where(path)} must be a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cfg)}
    hints = type_hints(type(cfg))
    _reject_unknown(data, fields, path)
    changes = {}
    for name, value in data.items():
        current = getattr(cfg, name)
        key = _join(path, name)
        if dataclasses.is_dataclass(current) and isinstance(value, Mapping):
            changes[name] = merge(current, value, key)
        else:
            changes[name] = _convert(hints[name], value, key)
    return dataclasses.replace(cfg, **changes)


def parse_override(text: str) -> dict[str, Any]:
    """`"a.b=value"` -> `{"a": {"b": value}}`; the value is parsed as YAML (`3e-4`, `[1, 2]`)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} must look like key.path=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw  # an unparsable value is taken as a plain string, then type-checked
    out: dict[str, Any] = {}
    node = out
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping from `path`; one clear error for a missing file or malformed YAML."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} does not exist")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise ConfigError(f"config file {str(p)!r} is not valid YAML{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(p)!r} must hold a mapping at the top level")
    return data


def load_config(
    cls_or_base: type[T] | T,
    yaml_paths: Iterable[str | Path] = (),
    overrides: Iterable[str] = (),
    prefix: str = "",
) -> T:
    """Defaults (a class, or a base instance) <- each YAML file in order <- each override.

    prefix: the key path the overrides were typed under (genpo-train's `env` for `--set env.*`):
    messages name their keys, and close matches, as the user typed them.
    """
    cfg = cls_or_base() if isinstance(cls_or_base, type) else cls_or_base
    for path in yaml_paths:
        try:
            cfg = merge(cfg, read_yaml(path))
        except ConfigError as exc:
            raise ConfigError(f"{exc} (in {path})") from None
    for text in overrides:
        try:
            cfg = merge(cfg, parse_override(text), prefix)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (in --set {_join(prefix, text)})") from None
    return cfg


def dump_yaml(cfg: Any, path: str | Path | None = None) -> str:
    """The resolved config as YAML text; also written to `path` when given."""
    text = yaml.safe_dump(to_dict(cfg), sort_keys=False)
    if path is not None:
        write_text_atomic(path, text)
    return text


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _where(path: str) -> str:
    return f"config key {path!r}" if path else "the config"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _reject_unknown(data: Mapping[str, Any], fields: Mapping[str, Any], path: str) -> None:
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=3, cutoff=0.5)
            hint = (
                f"; did you mean {', '.join(repr(_join(path, c)) for c in close)}?"
                if close
                else f"; valid keys: {', '.join(repr(_join(path, f)) for f in fields)}"
            )
            raise ConfigError(f"unknown config key {_join(path, str(key))!r}{hint}")


def _convert(hint: Any, value: Any, path: str) -> Any:
    """`value` checked against (and lightly coerced to) the type `hint`."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in UNION_TYPES:
        if value is None and type(None) in args:
            return None
        errors = []
        for arm in (a for a in args if a is not type(None)):
            try:
                return _convert(arm, value, path)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"config key {path!r} cannot be null")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"config key {path!r} must be one of {list(args)}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key {path!r} must be a list, got {type(value).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"config key {path!r} must have {len(args)} items, got {len(value)}")
        pairs = enumerate(zip_strict(args, value))
        return tuple(_convert(a, v, f"{path}[{i}]") for i, (a, v) in pairs)
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        return from_dict(hint, value, path)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config key {path!r} must be true or false, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, str):
            value = _float_or_str(value)  # YAML 1.1 reads "1e-4" (no dot) as a string
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config key {path!r} must be a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config key {path!r} must be an integer, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"config key {path!r} must be a string, got {value!r}")
        return value
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ConfigError(f"config key {path!r} must be {hint.__name__}, got {value!r}")
    return value


def _float_or_str(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text
