"""`tuner advise --write`: add the recommended indexes to the profile file, bump its version.

This module owns editing a profile file in place. It edits the text, not a re-dumped YAML
tree: PyYAML drops comments and re-flows layout, so the file is composed once to find where
`version:` and the `indexes:` list sit (node marks), and only those spans change: the
version's digits are replaced and new list items are inserted after the last existing one
(or a new `indexes:` key before the next top-level section). Every byte outside those spans
is kept. Before the file is replaced (atomically), the edited text must parse to the old
data plus exactly the new entries and the bumped version, and must load and validate with
`tuner.profile.load_profile`; anything it cannot edit safely is refused with a
ProfileError and the file is left untouched.

`version` bump: the profile schema makes `version` an integer, so the bump is +1.
"""

from __future__ import annotations

import os
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tuner.errors import ProfileError
from tuner.profile import load_profile

#: Top-level keys a new list goes before when the profile has none (the house order); a new
#: `queries:` goes last.
FOLLOWING_KEYS = {"indexes": ("views", "prune", "maintenance", "runtime", "queries")}
#: Wrap the reason comments at this width.
WIDTH = 100


class WriteRefused(ProfileError):
    """`--write` cannot edit this profile file safely; the file was not touched."""

    def __init__(self, path: str, message: str, *, line: int | None = None):
        super().__init__(path, f"--write refused: {message}", line=line)


@dataclass
class Written:
    """What `--write` did: the indexes added (none: the file is byte-identical, and the
    versions are None)."""

    path: str
    added: list[str]
    old_version: int | None
    new_version: int | None
    queries: list[str] = field(default_factory=list)


def write_advice(path: str, original: bytes, entries: list[dict[str, Any]],
                 notes: list[list[str]], queries: list[dict[str, Any]] | None = None
                 ) -> Written:
    """Append `entries` (profile `indexes:` items) to the profile at `path`, each preceded by
    its `notes` as YAML comment lines, and `queries` (profile `queries:` items, a captured
    workload's reads) to its `queries:`, and bump `version` by one. `original` is the file's
    bytes when the advice began: if the file changed since, it is refused."""
    queries = queries or []
    target = Path(path)
    try:
        current = target.read_bytes()
    except OSError as exc:
        raise WriteRefused(path, f"cannot read the file: {exc.strerror or exc}") from None
    if current != original:
        raise WriteRefused(path, "the file changed while advising; run tuner advise again")
    if not entries and not queries:
        return Written(path, [], None, None)
    try:
        text = original.decode("utf-8")
    except UnicodeDecodeError:
        raise WriteRefused(path, "the file is not UTF-8") from None
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:
        raise WriteRefused(path, "the profile is not a block YAML mapping")
    old_version = _version(path, root)
    edited = _edit(path, text, root, {"indexes": (entries, notes),
                                      "queries": (queries, [[] for _ in queries])},
                   old_version + 1)
    _check(path, text, edited, entries, queries, old_version + 1)
    # Through a symlink, the file it points to is replaced, not the link.
    _replace(target.resolve(), edited)
    return Written(path, [e["name"] for e in entries], old_version, old_version + 1,
                   [q["name"] for q in queries])


def indexes_block(entries: list[dict[str, Any]], notes: list[list[str]]) -> str:
    """A ready-to-paste `indexes:` block: the same items, comments included, that --write adds."""
    if not entries:
        return "indexes: []"
    return "indexes:\n" + _items(entries, notes, "  ", "\n")


def queries_block(entries: list[dict[str, Any]]) -> str:
    """A ready-to-paste `queries:` block: the captured reads --write adds."""
    return "queries:\n" + _items(entries, [[] for _ in entries], "  ", "\n")


# -- finding the spans ---------------------------------------------------------------------
def _top(root: yaml.Node) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    return {k.value: (k, v) for k, v in root.value if isinstance(k, yaml.ScalarNode)}


def _version(path: str, root: yaml.Node) -> int:
    if not isinstance(root, yaml.MappingNode) or root.flow_style:
        raise WriteRefused(path, "the profile is not a block YAML mapping")
    top = _top(root)
    if "<<" in top:
        raise WriteRefused(path, "the profile uses a YAML merge key (<<)",
                           line=top["<<"][0].start_mark.line + 1)
    if "version" not in top:
        parent = top["extends"][1].value if "extends" in top else None
        why = f"its version is inherited from {parent} (extends)" if parent \
            else "it has no version"
        raise WriteRefused(path, f"{why}; add `version:` to this file to advise into it")
    node = top["version"][1]
    if not (isinstance(node, yaml.ScalarNode) and node.style is None
            and node.tag == "tag:yaml.org,2002:int"):
        raise WriteRefused(path, "version: is not a plain integer",
                           line=node.start_mark.line + 1)
    return int(yaml.safe_load(node.value))


def _line_end(text: str, pos: int) -> int:
    """The index just after the line break that ends the line holding `pos`."""
    nl = text.find("\n", pos)
    return len(text) if nl < 0 else nl + 1


def _last_content(text: str, node: yaml.Node) -> int:
    """The end of the last text that belongs to `node` (scalars, flow collections), before
    the line breaks a block scalar (`>-`, `|`) counts as its own."""
    if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False):
        return len(text[:node.end_mark.index].rstrip())
    ends = [node.start_mark.index]
    for child in node.value:
        parts = child if isinstance(child, tuple) else (child,)
        ends += [_last_content(text, p) for p in parts]
    return max(ends)


def _indent_of(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    line = text[start:pos]
    return line[:len(line) - len(line.lstrip(" "))]


def _edit(path: str, text: str, root: yaml.Node, lists: dict[str, tuple[list[dict[str, Any]],
          list[list[str]]]], new_version: int) -> str:
    """The text with `version:` bumped and each list's new items appended (`lists`: key ->
    (entries, their comment lines))."""
    nl = "\r\n" if "\r\n" in text else "\n"
    top = _top(root)
    vnode = top["version"][1]
    edits: list[tuple[int, int, str]] = [(vnode.start_mark.index, vnode.end_mark.index,
                                          str(new_version))]
    for name, (entries, notes) in lists.items():
        if entries:
            edits += _list_edits(path, text, root, top, name, entries, notes, nl)
    out = text
    # Edits at one position go in list order: the later ones are applied first.
    for _, (start, end, new) in sorted(enumerate(edits), key=lambda e: (e[1][0], e[0]),
                                       reverse=True):
        out = out[:start] + new + out[end:]
    return out


def _list_edits(path: str, text: str, root: yaml.Node,
                top: dict[str, tuple[yaml.Node, yaml.Node]], name: str,
                entries: list[dict[str, Any]], notes: list[list[str]], nl: str
                ) -> list[tuple[int, int, str]]:
    """The edits appending `entries` to the top-level list `name` (made when missing)."""
    edits: list[tuple[int, int, str]] = []
    base = " " * root.start_mark.column
    if name not in top:
        block = _items(entries, notes, base + "  ", nl)
        at = _before_section(text, top, FOLLOWING_KEYS.get(name, ()))
        if at is None:
            lead = "" if text.endswith("\n") or not text else nl
            edits.append((len(text), len(text), f"{lead}{nl}{base}{name}:{nl}{block}{nl}"))
        else:
            edits.append((at, at, f"{base}{name}:{nl}{block}{nl}{nl}"))
    else:
        knode, node = top[name]
        if node.start_mark.index < knode.end_mark.index:
            raise WriteRefused(path, f"{name}: is a YAML alias", line=knode.start_mark.line + 1)
        empty = (isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null") \
            or (isinstance(node, yaml.SequenceNode) and node.flow_style and not node.value)
        if empty:
            # `indexes:`, `indexes: ~` or `indexes: []`: drop the value, list items below.
            end = node.end_mark.index
            start = node.start_mark.index
            rest = text[end:_line_end(text, end)]
            if not rest.strip():
                start = knode.end_mark.index + 1        # just after the colon
                end = end + len(rest.rstrip("\r\n"))
            at = _line_end(text, end)
            prefix = "" if text[:at].endswith("\n") or not at else nl
            edits.append((start, end, ""))
            edits.append((at, at, prefix + _items(entries, notes, base + "  ", nl) + nl))
        elif isinstance(node, yaml.SequenceNode) and not node.flow_style:
            first = node.value[0]
            dash = _indent_of(text, node.start_mark.index)
            item = " " * first.start_mark.column
            inner = item[len(dash):] if len(item) > len(dash) else "  "
            at = _line_end(text, _last_content(text, node.value[-1]))
            prefix = "" if text[:at].endswith("\n") else nl
            between = text[_last_content(text, node.value[0]):_line_end(
                text, node.value[1].start_mark.index)] if len(node.value) > 1 else ""
            spaced = "\n\n" in between.replace(" ", "").replace("\r", "")
            block = _items(entries, notes, dash, nl, inner, spaced)
            edits.append((at, at, prefix + (nl if spaced else "") + block + nl))
        else:
            raise WriteRefused(path, f"{name}: is not a block list (write `- name: ...` "
                                     "items, one per line, to let --write append to it)",
                               line=knode.start_mark.line + 1)
    return edits


def _before_section(text: str, top: dict[str, tuple[yaml.Node, yaml.Node]],
                    following: tuple[str, ...]) -> int | None:
    """Where a new top-level list goes: before the first `following` section and the
    comment lines right above it (they introduce that section)."""
    found = [top[k][0].start_mark.index for k in following if k in top]
    if not found:
        return None
    at = min(found)
    at = text.rfind("\n", 0, at) + 1
    while at > 0:
        prev = text.rfind("\n", 0, at - 1) + 1
        if not text[prev:at].lstrip().startswith("#"):
            break
        at = prev
    return at


def _flow(value: Any) -> str:
    """A scalar or a list of scalars in YAML flow style, quoted only where YAML needs it."""
    dumped = yaml.safe_dump([value], default_flow_style=True, width=10**6,
                            allow_unicode=True).strip()
    return dumped[1:-1]


def _items(entries: list[dict[str, Any]], notes: list[list[str]], dash: str, nl: str,
           inner: str = "  ", spaced: bool = False) -> str:
    """The new list items: comment lines, then `- name: ...` and the other keys."""
    blocks = []
    for entry, lines in zip(entries, notes, strict=True):
        out = []
        for note in lines:
            out += [f"{dash}# {part}" for part in textwrap.wrap(
                note, WIDTH - len(dash) - 2, break_long_words=False, break_on_hyphens=False)]
        pad = dash + " " * (len(inner) - 1)
        first = True
        for k, v in entry.items():
            out.append(f"{dash}-{pad[len(dash):]}{k}: {_flow(v)}" if first
                       else f"{dash}{inner}{k}: {_flow(v)}")
            first = False
        blocks.append(nl.join(out))
    return (nl + nl if spaced else nl).join(blocks)


# -- checking and replacing ----------------------------------------------------------------
def _check(path: str, old_text: str, new_text: str, entries: list[dict[str, Any]],
           queries: list[dict[str, Any]], new_version: int) -> None:
    """The edit changed exactly what it meant to, and the result loads and validates."""
    old, new = yaml.safe_load(old_text), yaml.safe_load(new_text)
    expected = dict(old, version=new_version)
    if entries:
        expected["indexes"] = list(old.get("indexes") or []) + entries
    if queries:
        expected["queries"] = list(old.get("queries") or []) + queries
    if new != expected:
        raise WriteRefused(path, "the file's layout is one --write cannot edit safely "
                                 "(the edited YAML did not read back as intended)")
    directory = Path(path).parent
    fd, tmp = tempfile.mkstemp(prefix=".tuner-advise-", suffix=".yaml", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(new_text)
        try:
            loaded = load_profile(tmp)
        except ProfileError as exc:
            raise WriteRefused(path, f"the edited profile would not validate: "
                                     f"{exc.message}") from None
        names = {i.name for i in loaded.indexes} | {q.name for q in loaded.queries}
        if not all(e["name"] in names for e in entries + queries) \
                or loaded.version != new_version:
            raise WriteRefused(path, "the edited profile did not load as intended")
    finally:
        os.unlink(tmp)


def _replace(target: Path, text: str) -> None:
    """Write `text` beside the file and rename it over it (atomic; keeps the file's mode)."""
    fd, tmp = tempfile.mkstemp(prefix=".tuner-advise-", suffix=".yaml", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, target.stat().st_mode & 0o7777)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
