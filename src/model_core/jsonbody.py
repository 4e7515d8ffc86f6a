"""Request bodies decoded within bounds.

``json.loads`` recurses once per nesting level, so a body of a few thousand brackets would
raise RecursionError, and decoding a full 8 MiB body costs ~0.4 s before any limit is
checked. A vectorised scan of the raw bytes (numpy, no per-character Python) bounds the
nesting depth before decoding and answers "how many rows are in this array?" without
decoding at all, so an oversized batch is refused in milliseconds.
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
# Looking a key up without decoding examines an object's container members; legitimate bodies
# have a handful. Past this the lookup gives up and the decoded document decides.
_MAX_MEMBERS = 64
_SMALL_VALUE_BYTES = 256

JsonPath = tuple[str | int, ...]  # object keys, and index 0 of an array

_QUOTE = 2
_TABLE = bytearray(256)  # byte -> int8: +1 opens a container, -1 closes one, 2 is a quote
_TABLE[ord("[")] = _TABLE[ord("{")] = 1
_TABLE[ord("]")] = _TABLE[ord("}")] = 0xFF
_TABLE[ord('"')] = _QUOTE
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
        raw bytes; None when that cannot be told without decoding (small body, no such array,
        escaped or too many keys). A duplicate key counts its last container value."""
        if len(self.raw) < PRESCAN_BYTES:
            return None
        node = self._skeleton.find(path)
        if node is None or not self._skeleton.is_array(node):
            return None
        return len(self._skeleton.children(node))

    def small_value(self, path: JsonPath) -> Any:
        """The array or object at ``path`` decoded on its own when it is small, else None."""
        if len(self.raw) < PRESCAN_BYTES:
            return None
        node = self._skeleton.find(path)
        return None if node is None else self._skeleton.small_value(node)

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
            # A bracket is outside every string when an even number of quotes precede it.
            bracket = np.flatnonzero(~quote & ((np.cumsum(quote, dtype=np.int32) & 1) == 0))
            positions, kinds = positions.take(bracket), kinds.take(bracket)
        depth = np.cumsum(kinds, dtype=np.int32)  # open containers after each bracket
        if depth.size and int(depth.max()) > MAX_DEPTH:
            raise BadRequest(f"request {self.what}: nesting deeper than {MAX_DEPTH} levels")
        opening = np.flatnonzero(kinds > 0)
        return _Skeleton(raw, text, quotes, positions.take(opening), depth.take(opening))


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


@dataclass(frozen=True)
class _Skeleton:
    """Where the containers of a JSON text are; openers are numbered in document order."""

    raw: bytes
    text: bytes  # raw with escapes blanked
    quotes: np.ndarray  # positions of string delimiters
    opens: np.ndarray  # positions of '[' and '{' outside strings
    depth: np.ndarray  # of each opener: 1 for the outermost container
    _children: dict[int, np.ndarray] = field(default_factory=dict)

    def is_array(self, node: int) -> bool:
        return self.text[self.opens[node]] == ord("[")

    def find(self, path: Sequence[str | int]) -> int | None:
        node: int | None = 0 if self.opens.size and not self.text[: self.opens[0]].strip() else None
        for step in path:
            if node is None:
                return None
            node = self._element(node, step) if isinstance(step, int) else self._member(node, step)
        return node

    def children(self, node: int) -> np.ndarray:
        """Openers directly inside ``node``: they end where an opener at its depth or above comes."""
        if node not in self._children:
            level = self.depth[node]
            following = self.depth[node + 1 :]
            outside = following <= level
            end = int(outside.argmax()) if outside.any() else following.size
            self._children[node] = np.flatnonzero(following[:end] == level + 1) + node + 1
        return self._children[node]

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

    def _member(self, node: int, key: str) -> int | None:
        if self.is_array(node):
            return None
        children = self.children(node)
        if children.size > _MAX_MEMBERS:
            return None
        for child in reversed(children.tolist()):  # json.loads keeps the last of duplicate keys
            if self._key_before(int(self.opens[child])) == key:
                return child
        return None

    def _key_before(self, position: int) -> str | None:
        last = int(np.searchsorted(self.quotes, position)) - 1
        if last < 1 or self.text[self.quotes[last] + 1 : position].strip() != b":":
            return None
        try:
            key = json.loads(self.raw[self.quotes[last - 1] : self.quotes[last] + 1])
        except ValueError:
            return None
        return key if isinstance(key, str) else None


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
