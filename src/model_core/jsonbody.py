"""Request bodies decoded within bounds.

``json.loads`` recurses once per nesting level, so a body of a few thousand brackets would
raise RecursionError, and decoding a full 8 MiB body costs ~0.4 s before any limit is
checked. A vectorised scan of the raw bytes (numpy, no per-character Python) bounds the
nesting depth before decoding and answers "how many rows are in this array?" without
decoding at all, so an oversized batch is refused in milliseconds. Keys are matched against
all members of their object at once, so no number or order of other members hides the rows.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from .errors import BadRequest

# Legitimate bodies nest 3 (V1 rows) to 5 (V2 nested tensor data) levels; the rest is room for
# free-form V2 parameters. json.loads fails near 1000 levels, numpy arrays at 64 dimensions.
MAX_DEPTH = 32
# Below this size json.loads takes about a millisecond: not worth scanning twice.
PRESCAN_BYTES = 64 * 1024
# A key looked up without decoding is matched against every member of its object at once (numpy);
# only keys spelled with escapes ("\u0069nstances") must be decoded one by one to compare them.
# Legitimate clients spell their few keys plainly, so more candidates than this are refused.
MAX_ESCAPED_KEYS = 16
_SMALL_VALUE_BYTES = 256

JsonPath = tuple[str | int, ...]  # object keys, and index 0 of an array

_OPEN, _QUOTE, _COLON = 1, 2, 3
_TABLE = bytearray(256)  # byte -> int8: +1 opens a container, -1 closes one, 2 is a quote, 3 a colon
_TABLE[ord("[")] = _TABLE[ord("{")] = _OPEN
_TABLE[ord("]")] = _TABLE[ord("}")] = 0xFF
_TABLE[ord('"')] = _QUOTE
_TABLE[ord(":")] = _COLON
_BACKSLASH = ord("\\")
_MARKS = bytes(_TABLE)
_DECODER = json.JSONDecoder()


class JsonBody:
    """A request body (or the JSON header of a V2 binary request) about to be decoded."""

    def __init__(self, raw: bytes, what: str = "body") -> None:
        self.what = what
        self.raw = _as_utf8(raw, what)

    def decode(self) -> Any:
        if not self.raw.strip():
            raise BadRequest(f"request {self.what} is empty (expected a JSON document)")
        if self.raw.count(b"[") + self.raw.count(b"{") > MAX_DEPTH:
            _ = self._skeleton  # raises when nested too deeply
        try:
            return json.loads(self.raw)
        except ValueError as exc:  # UnicodeDecodeError included
            problem = str(exc)
            if "integer string conversion" in problem:  # Python's guard against quadratic int parsing
                problem = f"a number has more than {sys.get_int_max_str_digits()} digits"
            raise BadRequest(f"malformed JSON in request {self.what}: {problem}") from None

    def rows(self, path: JsonPath) -> int | None:
        """How many elements of the array at ``path`` are arrays or objects (rows), read from the
        raw bytes; None when the body is small or holds no array at ``path``.

        Raises BadRequest when a key along ``path`` occurs more than once in its object, or cannot
        be compared without decoding more than MAX_ESCAPED_KEYS keys. Duplicates are refused rather
        than resolved: json.loads keeps the last one, so a scan following it would have to let
        ``"instances": [<800k rows>], "instances": 5`` through to a full decode (which builds every
        shadowed row), and a scan counting any other one would answer for a document json.loads
        never returns. Small bodies are not scanned and keep json.loads' last-wins reading."""
        if len(self.raw) < PRESCAN_BYTES:
            return None
        node = self._find(path)
        if node is None or not self._skeleton.is_array(node):
            return None
        return len(self._skeleton.children(node))

    def small_value(self, path: JsonPath) -> Any:
        """The array or object at ``path`` decoded on its own when it is small, else None (raises
        as ``rows`` does)."""
        if len(self.raw) < PRESCAN_BYTES:
            return None
        node = self._find(path)
        return None if node is None else self._skeleton.small_value(node)

    def _find(self, path: JsonPath) -> int | None:
        try:
            return self._skeleton.find(path)
        except _KeyProblem as exc:
            raise BadRequest(f"request {self.what}: {exc}") from None

    @cached_property
    def _skeleton(self) -> _Skeleton:
        raw = self.raw
        # Escapes blanked out (same length, positions kept) so that every '"' left delimits a string.
        text = raw.replace(b"\\\\", b"__").replace(b'\\"', b"__") if b"\\" in raw else raw
        marks = np.frombuffer(text.translate(_MARKS), dtype=np.int8)
        # flatnonzero + take rather than boolean indexing: several times faster on these arrays.
        positions = np.flatnonzero(marks != 0)
        kinds = marks.take(positions)
        quote = kinds == _QUOTE
        quotes = positions.take(np.flatnonzero(quote))
        if quotes.size:
            # A bracket or colon is outside every string when an even number of quotes precede it.
            outside = np.flatnonzero(~quote & ((np.cumsum(quote, dtype=np.int32) & 1) == 0))
            positions, kinds = positions.take(outside), kinds.take(outside)
        colon = kinds == _COLON
        # Open containers after each bracket, and at each colon (which opens nothing).
        depth = np.cumsum(np.where(colon, np.int8(0), kinds), dtype=np.int32)
        if depth.size and int(depth.max()) > MAX_DEPTH:
            raise BadRequest(f"request {self.what}: nesting deeper than {MAX_DEPTH} levels")
        opening = np.flatnonzero(kinds == _OPEN)
        colons = np.flatnonzero(colon)
        return _Skeleton(
            raw, text, quotes, positions.take(opening), depth.take(opening), positions.take(colons), depth.take(colons)
        )


def _as_utf8(raw: bytes, what: str) -> bytes:
    # json.loads also reads UTF-16 and UTF-32, where bracket and quote bytes occur inside other
    # characters; in UTF-8 they never do, so the scan works on UTF-8 only.
    encoding = json.detect_encoding(raw)
    if encoding == "utf-8":
        return raw
    if encoding == "utf-8-sig":
        return raw[3:]
    try:
        return raw.decode(encoding, "surrogatepass").encode("utf-8", "surrogatepass")
    except UnicodeError as exc:
        raise BadRequest(f"malformed JSON in request {what}: {exc}") from None


class _KeyProblem(Exception):
    """A key that the scan refuses to resolve (the message names it)."""


@dataclass(frozen=True)
class _Skeleton:
    """Where the containers and members of a JSON text are; openers are numbered in document order."""

    raw: bytes
    text: bytes  # raw with escapes blanked
    quotes: np.ndarray  # positions of string delimiters
    opens: np.ndarray  # positions of '[' and '{' outside strings
    depth: np.ndarray  # of each opener: 1 for the outermost container
    colons: np.ndarray  # positions of ':' outside strings: one per object member
    colon_depth: np.ndarray  # containers open at each colon: 1 for the outermost object's members
    _children: dict[int, np.ndarray] = field(default_factory=dict)
    _after_cache: dict[int, int] = field(default_factory=dict)
    _member_cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)

    def is_array(self, node: int) -> bool:
        return self.text[self.opens[node]] == ord("[")

    def find(self, path: Sequence[str | int]) -> int | None:
        node: int | None = 0 if self.opens.size and not self.text[: self.opens[0]].strip() else None
        for i, step in enumerate(path):
            if node is None:
                return None
            node = self._element(node, step) if isinstance(step, int) else self._member(node, step, path[: i + 1])
        return node

    def children(self, node: int) -> np.ndarray:
        """Openers directly inside ``node``."""
        if node not in self._children:
            after = self._after(node)
            self._children[node] = np.flatnonzero(self.depth[node + 1 : after] == self.depth[node] + 1) + node + 1
        return self._children[node]

    def _after(self, node: int) -> int:
        """The first opener after ``node`` at its depth or above (or len(opens)): ``node`` has
        closed by then, and it marks where the next text at ``node``'s inner depth could start."""
        if node not in self._after_cache:
            following = self.depth[node + 1 :]
            outside = following <= self.depth[node]
            self._after_cache[node] = node + 1 + (int(outside.argmax()) if outside.any() else following.size)
        return self._after_cache[node]

    def small_value(self, node: int) -> Any:
        start = int(self.opens[node])
        # A value that does not end inside the window fails to decode: not small.
        window = self.raw[start : start + _SMALL_VALUE_BYTES].decode("utf-8", "replace")
        try:
            return _DECODER.raw_decode(window)[0]
        except ValueError:
            return None

    def _element(self, node: int, index: int) -> int | None:
        if index != 0 or not self.is_array(node):
            return None
        children = self.children(node)
        if not children.size or self.text[self.opens[node] + 1 : self.opens[children[0]]].strip():
            return None  # empty, or the first element is not a container
        return int(children[0])

    def _member(self, node: int, key: str, where: JsonPath) -> int | None:
        """The container value of ``key`` in the object ``node``, found among all its members at once."""
        if self.is_array(node):
            return None
        colons, start, end = self._members(node)
        matches = self._plain_matches(start, end, key.encode("ascii"))  # the keys looked up are plain ASCII
        escaped = self._escaped_matches(start, end, key, where)
        if escaped.size:
            matches = np.union1d(matches, escaped)
        if matches.size > 1:
            raise _KeyProblem(f"key {_dotted(where)!r} occurs {matches.size} times (send it once)")
        if not matches.size:
            return None
        colon = int(colons[matches[0]])
        child = int(np.searchsorted(self.opens, colon))  # the value, when it is a container
        if child == self.opens.size or self.text[colon + 1 : self.opens[child]].strip():
            return None
        return child

    def _members(self, node: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The colon of each member of the object ``node``, and where its key starts and ends (inside
        its quotes: the string before the colon). Its colons are those at its inner depth before the
        next opener at its depth or above (text at that depth after that one is in another container)."""
        if node not in self._member_cache:
            after = self._after(node)
            stop = int(self.opens[after]) if after < self.opens.size else len(self.text)
            low, high = np.searchsorted(self.colons, [int(self.opens[node]), stop])
            colons = self.colons[low:high].take(np.flatnonzero(self.colon_depth[low:high] == self.depth[node]))
            if self.quotes.size < 2:  # malformed text: json.loads will refuse it
                colons = colons[:0]
            closing = np.maximum(np.searchsorted(self.quotes, colons) - 1, 1)  # < 1 only in malformed text
            self._member_cache[node] = colons, self.quotes.take(closing - 1) + 1, self.quotes.take(closing)
        return self._member_cache[node]

    @cached_property
    def _escaped(self) -> bool:
        return b"\\" in self.text

    @cached_property
    def _escapes(self) -> tuple[np.ndarray, np.ndarray]:
        """Where the escapes left in ``text`` start, and those of them that are \\uXXXX."""
        text = np.frombuffer(self.text, dtype=np.uint8)
        escapes = np.flatnonzero(text == _BACKSLASH)
        return escapes, escapes[text.take(np.minimum(escapes + 1, text.size - 1)) == ord("u")]

    def _plain_matches(self, start: np.ndarray, end: np.ndarray, key: bytes) -> np.ndarray:
        """Members whose key is spelled exactly ``key``: narrowed a byte at a time while many."""
        candidates = np.flatnonzero(end - start == len(key))
        raw = np.frombuffer(self.raw, dtype=np.uint8)
        for offset, byte in enumerate(key):
            if candidates.size <= 4:
                break
            candidates = candidates[raw.take(start.take(candidates) + offset) == byte]
        found = [member for member in candidates.tolist() if self.raw[start[member] : end[member]] == key]
        return np.array(found, dtype=np.intp)

    def _escaped_matches(self, start: np.ndarray, end: np.ndarray, key: str, where: JsonPath) -> np.ndarray:
        """Members whose key spells ``key`` through escapes. Only the escapes left in ``text`` can
        (the blanked backslash-backslash and backslash-quote spell characters no key looked up
        holds); each spells one character in 2 bytes, or 6 for \\uXXXX, so keys that do not come to
        ``len(key)`` characters are passed over without decoding."""
        candidates = np.flatnonzero(end - start > len(key))
        if not candidates.size or not self._escaped:
            return candidates[:0]
        escapes, unicode = self._escapes
        first, last = start.take(candidates), end.take(candidates)
        n_escapes = np.searchsorted(escapes, last) - np.searchsorted(escapes, first)
        n_unicode = np.searchsorted(unicode, last) - np.searchsorted(unicode, first)
        candidates = candidates[(n_escapes > 0) & (last - first - n_escapes - 4 * n_unicode == len(key))]
        if candidates.size > MAX_ESCAPED_KEYS:
            raise _KeyProblem(
                f"more than {MAX_ESCAPED_KEYS} keys with escapes could spell {_dotted(where)!r} (spell keys plainly)"
            )
        found = []
        for member in candidates.tolist():
            try:
                spelled = json.loads(self.raw[start[member] - 1 : end[member] + 1])
            except ValueError:
                continue
            if spelled == key:
                found.append(member)
        return np.array(found, dtype=np.intp)


def _dotted(path: JsonPath) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f".{step}" if text else step
    return text


def rows_at(document: Any, path: JsonPath) -> int | None:
    """``JsonBody.rows`` for a decoded document: elements that are arrays or objects."""
    node = document
    for step in path:
        if isinstance(step, int) and isinstance(node, list) and len(node) > step:
            node = node[step]
        elif isinstance(step, str) and isinstance(node, dict):
            node = node.get(step)
        else:
            return None
    if not isinstance(node, list):
        return None
    return sum(isinstance(item, (list, dict)) for item in node)
