"""One YAML config per run, loaded into frozen dataclasses.

* Unknown keys are errors (a typo must not silently fall back to a default).
* ``--set section.key=value`` overrides are parsed as YAML scalars, so ``true``/``3``/``0.5`` get
  their natural types and are then checked against the dataclass field type.
* Numeric fields may declare their allowed range (:func:`bounded`); a value outside it is an error
  naming the key and the range, at load time rather than as a ZeroDivisionError mid-run.
* The resolved config is written beside the output so every run says exactly what it did.
* Every problem is a one-line :class:`ConfigError` (the CLIs print it and exit 2), whatever the
  file holds: bad YAML (with file:line), bytes that are not UTF-8, a missing file, a list where a
  mapping belongs, a key given twice.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from curation.errors import CurateError, one_line

T = TypeVar("T")


class ConfigError(CurateError, ValueError):
    """A config file or override that does not fit the config's dataclasses.

    Always one line: the message is printed as the whole report of a failed command, and it quotes
    what the user wrote (keys, values, library messages), which may hold newlines or terminal
    control characters; those are shown escaped (``\\n``)."""

    def __init__(self, message: Any = "") -> None:
        super().__init__(one_line(message))


def _key(k: str) -> str:
    """A key as a message shows it: bare when it reads as a name, quoted when it would not (``''``)."""
    return k if k and k.isprintable() and k.strip() == k else repr(k)


class _StrictLoader(yaml.SafeLoader):
    """``yaml.safe_load`` that refuses a key given twice in one mapping: PyYAML keeps the last one
    silently, which turns a pasted duplicate into a setting nobody sees (merge keys ``<<`` may still
    be overridden, as YAML intends)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                try:
                    key = self.construct_object(key_node, deep=True)
                    first = seen.get(key)
                except (yaml.YAMLError, TypeError):  # an unhashable key: the base class reports it
                    continue
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} is given twice (first on line {first + 1})", key_node.start_mark)
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


@dataclasses.dataclass(frozen=True)
class Range:
    """The values a numeric config field accepts; open ends exclude the bound itself."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def __contains__(self, value: float) -> bool:
        if isinstance(value, float) and math.isnan(value):
            return False
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return self.hi is None or (value < self.hi if self.hi_open else value <= self.hi)

    def __str__(self) -> str:
        if self.lo is not None and self.hi is not None:
            return f"in {'(' if self.lo_open else '['}{self.lo}, {self.hi}{')' if self.hi_open else ']'}"
        if self.lo is not None:
            return f"{'>' if self.lo_open else '>='} {self.lo}"
        return f"{'<' if self.hi_open else '<='} {self.hi}"


#: ``dataclasses.field`` metadata key holding a field's :class:`Range`.
RANGE = "curate.range"


def bounded(default: Any, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
            hi_open: bool = False) -> Any:
    """A dataclass field with a default and an allowed range, checked by :func:`build`::

        steps: int = bounded(300, lo=1)
        share_cap: float = bounded(1.0, lo=0, hi=1, lo_open=True)
    """
    return dataclasses.field(default=default, metadata={RANGE: Range(lo, hi, lo_open, hi_open)})


def check_range(f: dataclasses.Field, value: Any, key: str) -> None:
    """Raise :class:`ConfigError` naming ``key`` when ``value`` is outside ``f``'s declared range."""
    rng = f.metadata.get(RANGE)
    if rng is not None and isinstance(value, (int, float)) and not isinstance(value, bool) and value not in rng:
        raise ConfigError(f"{key} must be {rng}, got {value!r}")


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` with duplicate keys refused (see :class:`_StrictLoader`)."""
    return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass


def parse_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """``["a.b=1", "c=x"]`` -> ``{"a": {"b": 1}, "c": "x"}``."""
    tree: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        parts = key.split(".")
        if not sep or not key or not all(p.strip() for p in parts):
            raise ConfigError(f"--set expects key=value (key: names joined by dots), got {pair!r}")
        try:
            value = safe_load(raw) if raw.strip() else ""
        except (yaml.YAMLError, RecursionError) as exc:
            raise ConfigError(f"--set {key}: not a valid YAML value ({_yaml_problem(exc)}); quote it if it is "
                              "a string") from None
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {part!r} is not a section")
        node[parts[-1]] = value
    return tree


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def build(cls: type[T], data: Mapping[str, Any] | None, where: str = "") -> T:
    """Instantiate dataclass ``cls`` from a mapping, recursively, rejecting unknown keys."""
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    odd = [k for k in data if not isinstance(k, str)]
    if odd:  # YAML makes `1:`, `true:` or `null:` keys numbers, booleans, None
        raise ConfigError(f"config keys must be names, got {', '.join(repr(k) for k in odd)} in "
                          f"{where.rstrip('.') or 'top level'}")
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown config key(s) {', '.join(where + _key(k) for k in unknown)}; "
            f"allowed in {where.rstrip('.') or 'top level'}: {', '.join(sorted(known))}"
        )
    missing = [f.name for f in known.values() if f.name not in data and f.init and
               f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{', '.join(where + m for m in missing)}: required, no default")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, where + name)
        check_range(known[name], kwargs[name], where + name)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where.rstrip('.') or cls.__name__}: {exc}") from exc


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        return build(tp, value, where + ".")
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError("; ".join(errors))
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where} must be one of {', '.join(map(str, args))}, got {value!r}")
        return value
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        item = args[0] if args else Any
        return tuple(_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        if len(args) == 2:
            return {_coerce(args[0], k, f"{where} key"): _coerce(args[1], v, f"{where}[{k}]") for k, v in value.items()}
        return dict(value)
    if tp is Any:
        return value
    if tp is float and isinstance(value, str) and _YAML12_FLOAT.fullmatch(value.strip()):
        value = float(value)  # `lr: 1e-3` is a float in YAML 1.2, a string to PyYAML (YAML 1.1)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            raise ConfigError(f"{where} is too large for a float, got {value}") from None
    if tp is float and isinstance(value, float) and math.isnan(value):
        raise ConfigError(f"{where} must be a number, got .nan")  # NaN passes every `<` range check
    if tp in (int, float, str, bool):
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise ConfigError(f"{where} must be {tp.__name__}, got {value!r}")
        return value
    return value


#: Numbers YAML 1.2 reads as floats but PyYAML's YAML 1.1 leaves as strings (no dot: ``1e-3``).
_YAML12_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)[eE][-+]?[0-9]+")


def to_dict(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def read_yaml(path: str | Path, what: str = "config") -> dict[str, Any]:
    """A YAML file whose top level is a mapping (empty: ``{}``), or a one-line :class:`ConfigError`
    naming the file (and line, for a YAML error) — never a scanner traceback, whatever the bytes."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{what} file not found: {p}") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} file {p} is a folder, not a YAML file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} file {p}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")  # a BOM is legal YAML; anything else must be UTF-8
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{p}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8") from None
    try:
        loaded = safe_load(text)
    except (yaml.YAMLError, RecursionError) as exc:
        line = _yaml_line(exc, text)
        raise ConfigError(f"{p}{f':{line}' if line else ''}: not valid YAML: {_yaml_problem(exc)}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, Mapping):
        raise ConfigError(f"{p}: the top level must be a mapping of config keys, got {_kind(loaded)}")
    return dict(loaded)


def _yaml_line(exc: BaseException, text: str) -> int | None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return mark.line + 1
    position = getattr(exc, "position", None)  # ReaderError: a character YAML does not allow
    return text.count("\n", 0, position) + 1 if isinstance(position, int) else None


def _yaml_problem(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        context = f"{exc.context}, " if exc.context and exc.context_mark and exc.problem_mark and \
            exc.context_mark.line != exc.problem_mark.line else ""
        col = f" (column {exc.problem_mark.column + 1})" if exc.problem_mark else ""
        return f"{context}{exc.problem}{col}"
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _kind(value: Any) -> str:
    names = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
    return names.get(type(value), type(value).__name__)


def load(cls: type[T], path: str | Path | None = None, overrides: list[str] | None = None) -> T:
    """Load ``cls`` from an optional YAML file, then apply ``--set`` overrides."""
    data = read_yaml(path) if path is not None else {}
    data = merge(data, parse_overrides(overrides))
    return build(cls, data)


def dump(obj: Any) -> str:
    return yaml.safe_dump(to_dict(obj), sort_keys=False, allow_unicode=True)
