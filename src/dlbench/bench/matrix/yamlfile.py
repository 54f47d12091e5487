"""The one YAML loader: safe loading within fixed bounds, with the line of every key kept so
that an error raised anywhere with a key path reads ``file:line: key.path: message``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dlbench.registry.errors import DlbenchError, did_you_mean

KeyPath = tuple[str | int, ...]
#: Where a value came from: a key path in the matrix file, or the text of a ``--set``.
Origin = KeyPath | str

#: A matrix file is a few KB; these bounds stop a hostile one (an endless input, alias
#: expansion, deep nesting) in well under a second and a few MB.
MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_NODES = 100_000
#: libyaml's loader where PyYAML has it: quick, and it refuses absurd nesting by itself.
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class MatrixError(DlbenchError):
    """A matrix that cannot be run, with where: a key path in the file, a ``--set`` text, or
    nothing (the whole file). ``load_yaml``'s document turns it into ``file:line: key``."""

    def __init__(self, origin: Origin | None, message: str) -> None:
        super().__init__(message)
        self.origin = origin
        self.message = message

    def __str__(self) -> str:
        if isinstance(self.origin, str):
            return f"--set {self.origin}: {self.message}"
        if self.origin:
            return f"{dotted(self.origin)}: {self.message}"
        return self.message


def dotted(keypath: KeyPath) -> str:
    """``("experiments", "ex1", "seeds", 0)`` -> ``experiments.ex1.seeds[0]``."""
    text = ""
    for part in keypath:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
            continue
        part = str(part)
        if not part.isprintable() or len(part) > 60:
            # A key that would break the one-line message or drown it: shown escaped, cut.
            shown = repr(part) if len(part) <= 60 else repr(part[:57]) + "..."
            text += f"[{shown}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML file with the line number of every key and item."""

    path: Path
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def locate(self, keypath: KeyPath) -> str:
        """``file:line: key.path`` for the key, or for its nearest ancestor with a known line."""
        for end in range(len(keypath), 0, -1):
            line = self.lines.get(keypath[:end])
            if line is not None:
                return f"{self.path}:{line}: {dotted(keypath)}"
        return f"{self.path}: {dotted(keypath)}" if keypath else str(self.path)

    def located(self, error: MatrixError) -> DlbenchError:
        """``error`` as one line that names this file and line where it has a key path."""
        if isinstance(error.origin, str):
            return DlbenchError(str(error))
        return DlbenchError(f"{self.locate(error.origin or ())}: {error.message}")


def read_text(path: Path, limit: int = MAX_BYTES) -> str:
    """A text file of at most ``limit`` bytes; anything else is a one-line error."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise DlbenchError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DlbenchError(f"{path}: is a directory, expected a YAML file") from None
    except OSError as exc:
        raise DlbenchError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise DlbenchError(f"{path}: larger than {limit // 1024} KiB; a matrix file is smaller")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DlbenchError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def load_yaml(path: Path) -> YamlDocument:
    """Read ``path`` with PyYAML's safe loader within ``MAX_BYTES``, ``MAX_DEPTH`` and
    ``MAX_NODES`` (aliases counted as often as they are used); duplicate keys, syntax errors
    and exceeded bounds are one-line errors."""
    return parse_yaml(read_text(path), path)


def document_of(data: Any, name: str = "matrix") -> YamlDocument:
    """A matrix given as Python data (``dlbench.run({...})``), held to the same bounds as a
    file: written as YAML and read back with the same loader; errors name ``name`` and the key."""
    try:
        text = yaml.safe_dump(data, sort_keys=False)
    except (yaml.YAMLError, RecursionError) as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DlbenchError(
            f"{name}: not plain data (mappings, lists, text, numbers): {problem}"
        ) from None
    if len(text.encode()) > MAX_BYTES:
        raise DlbenchError(f"{name}: larger than {MAX_BYTES // 1024} KiB as YAML")
    parsed = parse_yaml(text, Path(name))
    # Lines of the YAML written here would mislead: errors name the key alone.
    return YamlDocument(path=Path(name), data=parsed.data)


def parse_yaml(text: str, path: Path) -> YamlDocument:
    """Parse ``text`` (read from ``path``) within the bounds ``load_yaml`` keeps."""
    if SafeLoader is yaml.SafeLoader:
        _check_flow_depth(path, text)
    loader: Any = None
    try:
        loader = SafeLoader(text)
        node = loader.get_single_node()
        lines: dict[KeyPath, int] = {}
        if node is not None:
            _Walk(path, lines).visit(node, (), 0)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DlbenchError(f"{where}: invalid YAML: {problem}") from None
    except RecursionError:
        raise DlbenchError(f"{path}: nested more than {MAX_DEPTH} levels deep") from None
    finally:
        if loader is not None:
            loader.dispose()
    return YamlDocument(path=path, data=data, lines=lines)


#: The longest value a command-line option or a Python argument may hold as YAML.
MAX_VALUE_BYTES = 64 * 1024


def shown(text: str, most: int = 60) -> str:
    """``text`` quoted for an error message, cut to ``most`` characters."""
    return repr(text if len(text) <= most else text[:most] + "...")


def as_typed(text: str, most: int = 40) -> str:
    """``text`` as the user typed it when short and plain (``--jobs 4``), else ``shown``."""
    plain = len(text) <= most and text.isprintable() and " " not in text and text.strip()
    return text if plain else shown(text)


def parse_value(text: str, where: str) -> Any:
    """A value given on the command line (``--set``, ``--jobs``, ``--executor-opt``) read as
    YAML with the matrix file's loader and bounds (size, nesting, aliases counted as often as
    they are used); errors name ``where`` as the caller wrote it."""
    if len(text.encode("utf-8", "replace")) > MAX_VALUE_BYTES:
        raise DlbenchError(f"{where}: longer than {MAX_VALUE_BYTES // 1024} KiB")
    try:
        return parse_yaml(text, Path(where)).data
    except DlbenchError as exc:
        if "invalid YAML" in str(exc):
            raise DlbenchError(f"{where}: the value is not valid YAML") from None
        raise


def _check_flow_depth(path: Path, text: str) -> None:
    """Refuse deeply nested ``[`` / ``{`` before the pure-Python parser, which is slow on them."""
    depth = 0
    quote = ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise DlbenchError(f"{path}: nested more than {MAX_DEPTH} levels deep")
        elif char in "]}":
            depth = max(0, depth - 1)


class _Walk:
    """Records each key's line; refuses duplicate keys and documents beyond the bounds."""

    def __init__(self, path: Path, lines: dict[KeyPath, int]) -> None:
        self.path, self.lines, self.nodes = path, lines, 0

    def visit(self, node: yaml.Node, keypath: KeyPath, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise DlbenchError(
                f"{self.path}: more than {MAX_NODES:,} values once aliases are expanded; "
                "a matrix is smaller"
            )
        if depth > MAX_DEPTH:
            line = node.start_mark.line + 1
            raise DlbenchError(
                f"{self.path}:{line}: nested more than {MAX_DEPTH} levels deep "
                "(or an alias that refers to itself)"
            )
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                child = (*keypath, key)
                if key in seen and key != "<<":
                    raise DlbenchError(
                        f"{self.path}:{key_node.start_mark.line + 1}: {dotted(child)}: "
                        "duplicate key"
                    )
                seen.add(key)
                self.lines.setdefault(child, key_node.start_mark.line + 1)
                self.visit(value_node, child, depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = (*keypath, index)
                self.lines.setdefault(child, item.start_mark.line + 1)
                self.visit(item, child, depth + 1)


def check_keys(keypath: KeyPath, data: Mapping[str, Any], accepted: Sequence[str]) -> None:
    """Every key of ``data`` is one of ``accepted``, or a located error says which are."""
    for key in data:
        if key not in accepted:
            hint = did_you_mean(key, accepted)
            hint = f"{hint} " if hint else ""
            raise MatrixError(
                (*keypath, key), f"unknown key; {hint}accepted: {', '.join(accepted)}"
            )
