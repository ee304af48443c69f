"""Reading a profile's YAML within fixed limits: profiles arrive in pull requests, so a profile
file is untrusted input.

This module owns the limits on reading and composing one YAML file: its size in bytes (checked
before anything is parsed), the nesting depth, and the number of nodes the document expands
to, counting every use of an alias as a copy of the node it names (a "billion laughs" file is a
few hundred bytes that expand to 10**9 nodes; every later pass, from the line walk to JSON
Schema, would visit each copy). It also refuses what a profile, a JSON-like document, cannot
hold: recursive aliases and mapping keys that are not plain strings. Every refusal is a
ProfileError naming the file, the line and the limit that was hit.

It uses PyYAML's pure-Python SafeLoader, as profile.py always has: the composer is the part
that needs the counting, and libyaml's CSafeLoader composes in C, out of reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tuner.errors import ProfileError
from tuner.profile_limits import bad_character, show

#: The largest bundled profile is 6 KB; 256 KiB leaves forty times that, and keeps the
#: pure-Python scanner's worst case (one huge scalar) well under a second.
MAX_DOCUMENT_BYTES = 256 << 10
#: The deepest a real profile goes is 5 (`indexes[0].columns[1].expr`); the composer recurses
#: once per level, so a 10,000-deep document would otherwise end in RecursionError.
MAX_DEPTH = 64
#: Nodes after alias expansion, over a profile and every profile it extends together. The
#: largest bundled profile has ~200; 20,000 is a profile of 500 indexes of ten keys each, and
#: PyYAML's pure-Python composer reads it in about a second.
MAX_NODES = 20_000
#: Files in one `extends` chain, the profile itself included.
MAX_EXTENDS = 16

#: Longer than any 64-bit integer in any YAML spelling (`0b` and 64 digits, `_` separators);
#: Python's int() of a longer one is slow, and refused past 4,300 digits.
MAX_INT_CHARS = 100

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_MERGE = "tag:yaml.org,2002:merge"


def read_text(path: Path) -> str:
    """The text of the profile at `path`, read no further than MAX_DOCUMENT_BYTES + 1 bytes
    (so that /dev/zero or a huge file cannot exhaust memory)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        raise ProfileError(str(path), "no such file") from None
    except OSError as exc:
        raise ProfileError(str(path), f"cannot read: {exc}") from None
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise ProfileError(str(path), f"the file is larger than {MAX_DOCUMENT_BYTES:,} bytes, "
                           "tuner's limit for a profile (MAX_DOCUMENT_BYTES)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProfileError(str(path), f"cannot read: not UTF-8 text ({exc.reason} at byte "
                           f"{exc.start})") from None


@dataclass
class Budget:
    """What one profile's files have used so far, shared along its `extends` chain."""

    nodes: int = 0


class LimitedLoader(yaml.SafeLoader):
    """A SafeLoader whose composer counts depth and expanded nodes and checks mapping keys."""

    def __init__(self, stream: str, path: str, budget: Budget | None = None):
        super().__init__(stream)
        self.path = path
        self.extends = bool(budget and budget.nodes)
        self.total = budget.nodes if budget else 0  # nodes, aliases counted at full size
        self.sizes: dict[int, int] = {}  # id(node) -> expanded size, once it is complete
        self.open: list[int] = []        # the expanded size so far of each node being composed

    def fail(self, mark: Any, message: str) -> ProfileError:
        """A ProfileError at `mark`'s line."""
        return ProfileError(self.path, message, line=mark.line + 1 if mark else None)

    def count(self, size: int, mark: Any, via_alias: bool) -> None:
        """Add `size` nodes to the document's total and to the enclosing node's size."""
        self.total += size
        if self.open:
            self.open[-1] += size
        if self.total > MAX_NODES:
            what = ("with the profiles it extends, the document" if self.extends
                    else "the document")
            how = " through aliases" if via_alias else ""
            raise self.fail(mark, f"{what} expands{how} to more than {MAX_NODES:,} "
                            "YAML nodes, tuner's limit for a profile (MAX_NODES)")

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Compose one node, counting it; an alias costs the size of the node it names."""
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None:  # an undefined alias is PyYAML's own error below
                size = self.sizes.get(id(target))
                if size is None:
                    raise self.fail(event.start_mark, f"alias *{event.anchor} refers to a node "
                                    "that contains it (a recursive alias)")
                self.count(size, event.start_mark, via_alias=True)
            node = super().compose_node(parent, index)
        else:
            if len(self.open) >= MAX_DEPTH:
                raise self.fail(event.start_mark, f"the document nests deeper than {MAX_DEPTH} "
                                "levels, tuner's limit for a profile (MAX_DEPTH)")
            self.count(1, event.start_mark, via_alias=False)
            self.open.append(1)
            try:
                node = super().compose_node(parent, index)
            finally:
                size = self.open.pop()
            self.sizes[id(node)] = size
            if self.open:
                self.open[-1] += size
        assert node is not None, "compose_node gives a node inside a document"
        if node.tag == _INT and len(node.value) > MAX_INT_CHARS:  # a scalar, tagged int
            raise self.fail(node.start_mark, f"the integer {show(node.value)} is longer than "
                            f"{MAX_INT_CHARS} characters; no field of a profile takes one")
        if isinstance(parent, yaml.MappingNode) and index is None:
            self.refuse_key(node)
        return node

    def refuse_key(self, node: Any) -> None:
        """A profile is JSON-like: its mapping keys are strings (or YAML's `<<` merge key)."""
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node.start_mark, "a mapping key must be a plain string, not a "
                            "sequence or mapping")
        if node.tag not in (_STR, _MERGE):
            raise self.fail(node.start_mark, f"the mapping key {show(node.value)} is not a "
                            f"string (YAML reads it as {node.tag.rsplit(':', 1)[-1]}); quote it")
        problem = bad_character(node.value)
        if problem:
            raise self.fail(node.start_mark, f"the mapping key {show(node.value)} contains "
                            f"{problem}")


def compose(text: str, path: str, budget: Budget | None = None) -> yaml.Node | None:
    """The node tree of the single YAML document in `text`, within the limits above; `budget`
    carries the count over the files of an `extends` chain. Limits raise ProfileError;
    malformed YAML raises yaml.YAMLError for the caller to report."""
    loader = LimitedLoader(text, path, budget)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    if budget is not None:
        budget.nodes = loader.total
    return node


def construct(node: yaml.Node, path: str) -> Any:
    """The Python data of a composed document. A value YAML accepts but Python cannot hold
    (an integer of more than 4,300 digits, a timestamp out of range) is a ProfileError."""
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ProfileError(path, f"invalid YAML: {problem}",
                           line=mark.line + 1 if mark else None) from None
    except (ValueError, OverflowError) as exc:
        raise ProfileError(path, f"invalid YAML value: {str(exc).splitlines()[0]}") from None
    finally:
        loader.dispose()
