"""The one YAML loader: safe loading, with the line of every key kept for error messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from registry.errors import DlbenchError

KeyPath = tuple[str | int, ...]


class MatrixError(DlbenchError):
    """A matrix file that cannot be run, located by file, line and key path."""


def dotted(keypath: KeyPath) -> str:
    """``("experiments", "ex1", "seeds", 0)`` -> ``experiments.ex1.seeds[0]``."""
    text = ""
    for part in keypath:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
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

    def error(self, keypath: KeyPath, message: str) -> MatrixError:
        """A :class:`MatrixError` located at ``keypath``."""
        return MatrixError(f"{self.locate(keypath)}: {message}")


def load_yaml(path: Path) -> YamlDocument:
    """Read ``path`` with PyYAML's safe loader; duplicate keys and syntax errors are errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DlbenchError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DlbenchError(f"{path}: cannot read: {exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise MatrixError(f"{where}: invalid YAML: {problem}") from None
    lines: dict[KeyPath, int] = {}
    if node is not None:
        _record_lines(path, node, (), lines)
    return YamlDocument(path=path, data=data, lines=lines)


def _record_lines(path: Path, node: yaml.Node, keypath: KeyPath, lines: dict[KeyPath, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*keypath, key)
            if key in seen and key != "<<":
                raise MatrixError(
                    f"{path}:{key_node.start_mark.line + 1}: {dotted(child)}: duplicate key"
                )
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _record_lines(path, value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*keypath, index)
            lines[child] = item.start_mark.line + 1
            _record_lines(path, item, child, lines)
