"""YAML text to plain Python data with the line of every value, read the way Mistral reads it.

Mistral loads definitions with a safe loader that treats anchors (``&x``) and
aliases (``*x``) as plain text (no "billion laughs") and lets a plain scalar
start with ``@``; an empty document is ``{}``. This module does the same and
also records, for every mapping entry and list item, the 1-based line where it
starts, so that problems can name their line.

The document is built from the parser's event stream with an explicit stack
(no recursion, so a deeply nested document cannot crash the process). The
fast path reads events from libyaml; whenever the text holds something libyaml
reads differently from Mistral's loader (an anchor, an alias, a scalar starting
with ``@``, a character the pure-Python reader refuses) or libyaml reports an
error, the text is read again by the pure-Python parser with Mistral's rules,
whose verdict and messages are the reference. Texts with tabs always take the
pure-Python path (libyaml accepts some tabs that PyYAML refuses); libyaml still
accepts a few odd texts that PyYAML refuses (``key: |#``), and reads them as
PyYAML would read the corrected text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml import events as yaml_events
from yaml import nodes as yaml_nodes

__all__ = ["MAX_DEPTH", "Duplicate", "LoadError", "LoadedDocument", "Path", "load"]

#: A place in the document: mapping keys and list indexes from the root.
Path = tuple[Any, ...]

#: Deepest nesting accepted (Mistral's recursive composer stops near 330).
MAX_DEPTH = 250

_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_VALUE = "tag:yaml.org,2002:value"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_SCALAR_TAGS = frozenset(
    {
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
        _STR,
    }
)


class LoadError(Exception):
    """The text is not YAML that Mistral would read."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True, slots=True, kw_only=True)
class Duplicate:
    """A key written twice in one mapping (the last one wins, as in PyYAML)."""

    path: Path
    key: Any
    line: int
    first_line: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedDocument:
    """Plain data (dicts, lists, scalars) with the line of each place."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    duplicates: tuple[Duplicate, ...] = ()

    def line(self, path: Path) -> int | None:
        """The line of ``path`` or of its nearest recorded ancestor."""
        for end in range(len(path), -1, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return None


class _MistralLoader(yaml.SafeLoader):
    """PyYAML's safe loader with Mistral's rules: ``&``, ``*`` and ``@`` start plain text."""

    def fetch_alias(self) -> None:
        self.fetch_plain()

    def fetch_anchor(self) -> None:
        self.fetch_plain()

    def check_plain(self) -> bool:
        if self.peek() == "@":
            return True
        return bool(super().check_plain())


class _NeedsSlowPath(Exception):
    """libyaml read something that Mistral's loader reads differently."""


_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)


def load(text: str) -> LoadedDocument:
    """Read ``text`` as one YAML document (``{}`` when empty).

    Raises:
        LoadError: the text is not YAML Mistral would accept, or is nested too deeply.
    """
    if _FAST_LOADER is not None and _fast_path_reads_it_alike(text):
        try:
            return _Builder(text).build(_fast_events(text))
        except LoadError:
            raise
        except Exception:  # libyaml disagrees or fails: let the reference loader decide
            pass
    try:
        return _Builder(text).build(yaml.parse(text, Loader=_MistralLoader))
    except LoadError:
        raise
    except yaml.MarkedYAMLError as error:
        raise LoadError(_describe(error), _mark_line(error)) from None
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        character = error.character
        code = ord(character) if isinstance(character, str) else int(character)
        raise LoadError(f"unacceptable character #x{code:04x}: {error.reason}", line) from None
    except Exception as error:  # PyYAML raising something unexpected must not escape
        raise LoadError(
            str(error).splitlines()[0] if str(error) else type(error).__name__, None
        ) from None


def _fast_path_reads_it_alike(text: str) -> bool:
    # libyaml is laxer than PyYAML with tabs and with characters PyYAML's reader refuses.
    return "\t" not in text and not yaml.reader.Reader.NON_PRINTABLE.search(text)


def _fast_events(text: str) -> Iterator[yaml_events.Event]:
    for event in yaml.parse(text, Loader=_FAST_LOADER):
        if isinstance(event, yaml_events.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _NeedsSlowPath()
        yield event


def _describe(error: yaml.MarkedYAMLError) -> str:
    parts = [part for part in (error.context, error.problem) if part]
    message = ": ".join(parts) if parts else "invalid YAML"
    line = _mark_line(error)
    context_line = error.context_mark.line + 1 if error.context_mark is not None else None
    if context_line is not None and line is not None and context_line != line:
        message += f" (started at line {context_line})"
    return message


def _line(event: yaml_events.Event) -> int:
    mark = event.start_mark
    return mark.line + 1 if mark is not None else 1


def _mark_line(error: yaml.MarkedYAMLError) -> int | None:
    mark = error.problem_mark or error.context_mark
    return mark.line + 1 if mark is not None else None


class _Frame:
    __slots__ = ("has_key", "is_mapping", "key", "key_line", "merges", "path", "value")

    def __init__(self, value: dict[Any, Any] | list[Any], path: Path) -> None:
        self.value = value
        self.path = path
        self.is_mapping = isinstance(value, dict)
        self.has_key = False
        self.key: Any = None
        self.key_line = 0
        self.merges: list[tuple[Any, int]] = []


_MERGE_KEY = object()


class _Builder:
    """Turns an event stream into data, lines and duplicates."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines: dict[Path, int] = {}
        self.duplicates: list[Duplicate] = []
        self.root: Any = None

    def build(self, events: Iterable[yaml_events.Event]) -> LoadedDocument:
        stack: list[_Frame] = []
        documents = 0
        for event in events:
            if isinstance(event, yaml_events.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise LoadError(
                        "expected a single document in the stream, but found another document",
                        _line(event),
                    )
                continue
            if isinstance(event, yaml_events.ScalarEvent):
                self._place(stack, self._scalar(event), event)
            elif isinstance(event, yaml_events.AliasEvent):
                raise LoadError(f"found an alias '*{event.anchor}'", _line(event))
            elif isinstance(event, (yaml_events.MappingStartEvent, yaml_events.SequenceStartEvent)):
                path = self._open(stack, event)
                container: dict[Any, Any] | list[Any]
                container = {} if isinstance(event, yaml_events.MappingStartEvent) else []
                self._check_collection_tag(event, container)
                stack.append(_Frame(container, path))
                if len(stack) > MAX_DEPTH:
                    raise LoadError(
                        f"the definition is nested more than {MAX_DEPTH} levels deep",
                        _line(event),
                    )
            elif isinstance(event, (yaml_events.MappingEndEvent, yaml_events.SequenceEndEvent)):
                frame = stack.pop()
                value = self._finish(frame)
                if stack:
                    self._attach(stack, value, event)
                else:
                    self.root = value
        # Like Mistral's ``load(text) or {}``: any empty or false document is an empty mapping.
        data = self.root or {}
        return LoadedDocument(data=data, lines=self.lines, duplicates=tuple(self.duplicates))

    # -- placing values -------------------------------------------------

    def _open(self, stack: list[_Frame], event: yaml_events.NodeEvent) -> Path:
        line = _line(event)
        if not stack:
            self.lines[()] = line
            return ()
        top = stack[-1]
        if not top.is_mapping:
            path = (*top.path, len(top.value))
            self.lines[path] = line
            return path
        if not top.has_key:
            raise LoadError("a mapping key must be a plain value, not a list or a mapping", line)
        if top.key is _MERGE_KEY:
            return top.path
        path = (*top.path, top.key)
        return path

    def _place(self, stack: list[_Frame], value: Any, event: yaml_events.ScalarEvent) -> None:
        line = _line(event)
        if not stack:
            self.lines[()] = line
            self.root = value
            return
        top = stack[-1]
        if top.is_mapping and not top.has_key:
            top.has_key = True
            top.key = value
            top.key_line = line
            try:
                hash(value)
            except TypeError:
                raise LoadError("a mapping key must be a plain value", line) from None
            return
        self._attach(stack, value, event)

    def _attach(self, stack: list[_Frame], value: Any, event: yaml_events.Event) -> None:
        top = stack[-1]
        if not top.is_mapping:
            assert isinstance(top.value, list)
            path = (*top.path, len(top.value))
            self.lines.setdefault(path, _line(event))
            top.value.append(value)
            return
        assert isinstance(top.value, dict)
        key = top.key
        top.has_key = False
        top.key = None
        if key is _MERGE_KEY:
            top.merges.append((value, top.key_line))
            return
        path = (*top.path, key)
        if key in top.value:
            self.duplicates.append(
                Duplicate(path=top.path, key=key, line=top.key_line, first_line=self.lines[path])
            )
        self.lines[path] = top.key_line
        top.value[key] = value

    def _finish(self, frame: _Frame) -> Any:
        if not frame.merges:
            return frame.value
        merged: dict[Any, Any] = {}
        for source, line in frame.merges:
            sources = source if isinstance(source, list) else [source]
            for item in reversed(sources):
                if not isinstance(item, dict):
                    raise LoadError(
                        "expected a mapping or list of mappings for merging ('<<')", line
                    )
                merged.update(item)
        assert isinstance(frame.value, dict)
        merged.update(frame.value)
        return merged

    # -- scalars and tags -------------------------------------------------

    def _scalar(self, event: yaml_events.ScalarEvent) -> Any:
        tag = event.tag
        if tag is None and not event.implicit[0]:
            return event.value  # quoted and block scalars are text
        if tag is None or tag == "!":
            tag = _RESOLVER.resolve(  # type: ignore[no-untyped-call]
                yaml_nodes.ScalarNode, event.value, event.implicit
            )
        line = _line(event)
        if tag == _STR:
            return event.value
        if tag in _SCALAR_TAGS:
            node = yaml_nodes.ScalarNode(tag, event.value)
            try:
                return _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, node)
            except Exception:
                shown = event.value if len(event.value) <= 40 else event.value[:37] + "..."
                kind = tag.rsplit(":", 1)[-1]
                raise LoadError(f"cannot read {shown!r} as {kind}", line) from None
        if tag in (_TIMESTAMP, _VALUE):
            return event.value  # dates stay text: Mistral cannot store them anyway
        if tag == _MERGE:
            return _MERGE_KEY
        raise LoadError(f"could not determine a constructor for the tag {tag!r}", line)

    def _check_collection_tag(
        self, event: yaml_events.CollectionStartEvent, container: dict[Any, Any] | list[Any]
    ) -> None:
        tag = event.tag
        if tag is None or tag == "!":
            return
        expected = _MAP if isinstance(container, dict) else _SEQ
        if tag != expected:
            raise LoadError(f"could not determine a constructor for the tag {tag!r}", _line(event))
