"""Data-only wire format shared by the trusted side and the sandboxed worker.

A message is one frame: ``u32 n_parts`` then ``n_parts`` x ``u64 length`` then the parts.
Part 0 is a UTF-8 JSON header; the other parts are raw little-endian array buffers.
Values are encoded as a JSON tree: ``None``/bools/ints/floats/strings as themselves,
containers and arrays as tagged objects::

    {"t": "list", "v": [...]}            {"t": "tuple", "v": [...]}
    {"t": "dict", "k": [str...], "v": [...]}
    {"t": "nd", "d": "<f8", "s": [2, 3], "b": 1}   (b: index of the buffer part)
    {"t": "sc", "d": "<f4", "b": 2}                  (a numpy scalar)
    {"t": "ref", "id": 7}                            (an object kept by the worker)
    {"t": "float", "v": "nan"}                       (non-finite Python floats)

Only numeric dtypes (kinds ``b i u f c``) are accepted and arrays are rebuilt with
``np.frombuffer``. Nothing is ever pickled or unpickled.

This module imports only the standard library and numpy: the worker loads a copy of it.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
from typing import Any

import numpy as np

_frombuffer = np.frombuffer
_ndarray = np.ndarray
_generic = np.generic
_dtype = np.dtype
_asarray = np.asarray

MAX_FRAME_BYTES = 1 << 28  # 256 MiB per message
MAX_HEADER_BYTES = 1 << 24  # 16 MiB of JSON
MAX_PARTS = 100_000
MAX_DEPTH = 64
MAX_NODES = 1_000_000
NUMERIC_KINDS = frozenset("biufc")
_DTYPE_RE = re.compile(r"^[<>|=]?[biufc][0-9]{1,2}$")
_HEAD = struct.Struct("<I")
_LEN = struct.Struct("<Q")


class ProtocolError(Exception):
    """A frame or value that does not follow the wire format."""


class Ref:
    """A handle to an object that lives in the worker (a cache, a model)."""

    __slots__ = ("id", "generation", "__weakref__")

    def __init__(self, id: int, generation: int = 0) -> None:
        self.id = id
        self.generation = generation

    def __repr__(self) -> str:
        return f"Ref({self.id})"


# ---------------------------------------------------------------- values


def encode(value: Any, ref_of: Any = None, opaque: Any = None) -> tuple[Any, list[bytes]]:
    """Encode ``value`` into a JSON-able tree and a list of buffers.

    Worker side: ``ref_of(obj)`` may return an int id for objects that are not data;
    ``opaque(obj)`` is asked first for every object that is not a plain scalar (containers
    and arrays included) and may return an int id: that object is then sent as a reference
    and never looked into (a cache that came in as a reference goes back as one).
    """
    buffers: list[bytes] = []
    seen: set[int] = set()

    def enc(v: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError("value nested too deeply")
        if v is None or v is True or v is False:
            return v
        t = type(v)
        if t is int or t is str:
            return v
        if opaque is not None and t is not float:
            rid = opaque(v)
            if rid is not None:
                return {"t": "ref", "id": int(rid)}
        if t is float:
            if math.isfinite(v):
                return v
            return {"t": "float", "v": repr(v)}
        if isinstance(v, Ref):
            return {"t": "ref", "id": int(v.id)}
        if isinstance(v, _ndarray) and type(v) is _ndarray:
            return enc_array(v)
        if isinstance(v, _generic) and not isinstance(v, _ndarray):
            arr = np.asarray(v)
            if arr.dtype.kind not in NUMERIC_KINDS:
                raise ProtocolError(f"numpy scalar of dtype {arr.dtype} is not data")
            node = enc_array(arr.reshape(()))
            return {"t": "sc", "d": node["d"], "b": node["b"]}
        if t in (list, tuple, dict):
            if id(v) in seen:
                raise ProtocolError("recursive container")
            seen.add(id(v))
            try:
                if t is dict:
                    keys = list(v.keys())
                    if not all(type(k) is str for k in keys):
                        raise ProtocolError("dict keys must be str")
                    return {"t": "dict", "k": keys, "v": [enc(v[k], depth + 1) for k in keys]}
                return {"t": t.__name__, "v": [enc(x, depth + 1) for x in v]}
            finally:
                seen.discard(id(v))
        if ref_of is not None:
            rid = ref_of(v)
            if rid is not None:
                return {"t": "ref", "id": int(rid)}
        raise ProtocolError(f"a value of type {t.__name__} is not data")

    def enc_array(a: np.ndarray) -> dict[str, Any]:
        if a.dtype.kind not in NUMERIC_KINDS:
            raise ProtocolError(f"array of dtype {a.dtype} is not data")
        dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        a = _asarray(a, dtype=dt, order="C")
        buffers.append(a.tobytes())
        return {"t": "nd", "d": dt.str, "s": list(a.shape), "b": len(buffers)}

    return enc(value, 0), buffers


def check_dtype(name: Any) -> np.dtype:
    """Return the numeric dtype named ``name`` or raise ProtocolError."""
    if not isinstance(name, str) or not _DTYPE_RE.match(name):
        raise ProtocolError(f"refused dtype {name!r}")
    dt = _dtype(name)
    if dt.kind not in NUMERIC_KINDS or dt.hasobject:
        raise ProtocolError(f"refused dtype {name!r}")
    return dt


def decode(tree: Any, buffers: list[bytearray], make_ref: Any = None) -> Any:
    """Rebuild a value from its tree; ``make_ref(id)`` turns ref nodes into objects."""
    count = [0]

    def dec(n: Any, depth: int) -> Any:
        count[0] += 1
        if count[0] > MAX_NODES or depth > MAX_DEPTH:
            raise ProtocolError("value too large or nested too deeply")
        if n is None or type(n) in (bool, int, str):
            return n
        if type(n) is float:
            return n
        if type(n) is not dict:
            raise ProtocolError(f"unexpected node of type {type(n).__name__}")
        tag = n.get("t")
        if tag == "list" or tag == "tuple":
            items = n.get("v")
            if type(items) is not list:
                raise ProtocolError("malformed sequence")
            out = [dec(x, depth + 1) for x in items]
            return out if tag == "list" else tuple(out)
        if tag == "dict":
            keys, vals = n.get("k"), n.get("v")
            if type(keys) is not list or type(vals) is not list or len(keys) != len(vals):
                raise ProtocolError("malformed dict")
            if not all(type(k) is str for k in keys):
                raise ProtocolError("dict keys must be str")
            return {k: dec(v, depth + 1) for k, v in zip(keys, vals, strict=True)}
        if tag == "nd" or tag == "sc":
            dt = check_dtype(n.get("d"))
            shape = n.get("s", []) if tag == "nd" else []
            if type(shape) is not list or not all(type(s) is int and s >= 0 for s in shape):
                raise ProtocolError("malformed shape")
            if len(shape) > 32:
                raise ProtocolError("too many dimensions")
            b = n.get("b")
            if type(b) is not int or not 1 <= b <= len(buffers):
                raise ProtocolError("bad buffer index")
            buf = buffers[b - 1]
            size = 1
            for s in shape:
                size *= s
            if size * dt.itemsize != len(buf):
                raise ProtocolError("buffer size does not match shape and dtype")
            arr = _frombuffer(buf, dtype=dt).reshape(shape)
            if dt.byteorder not in ("=", "|"):
                arr = arr.astype(dt.newbyteorder("="))
            return arr[()] if tag == "sc" else arr
        if tag == "ref":
            rid = n.get("id")
            if type(rid) is not int or make_ref is None:
                raise ProtocolError("unexpected object reference")
            return make_ref(rid)
        if tag == "float":
            v = n.get("v")
            if v not in ("nan", "inf", "-inf"):
                raise ProtocolError("malformed float")
            return float(v)
        raise ProtocolError(f"unknown tag {tag!r}")

    return dec(tree, 0)


# ---------------------------------------------------------------- frames


def pack(header: dict[str, Any], buffers: list[bytes] = ()) -> bytes:  # type: ignore[assignment]
    """Serialise one frame."""
    head = json.dumps(header, allow_nan=False, separators=(",", ":")).encode()
    parts = [head, *buffers]
    out = [_HEAD.pack(len(parts))]
    out.extend(_LEN.pack(len(p)) for p in parts)
    out.extend(parts)
    return b"".join(out)


def write_frame(fd: int, header: dict[str, Any], buffers: list[bytes] = ()) -> None:  # type: ignore[assignment]
    """Write one frame to a file descriptor."""
    data = memoryview(pack(header, buffers))
    while data:
        n = os.write(fd, data)
        data = data[n:]


class FrameReader:
    """Incremental frame parser (bytes in, ``(header, buffers)`` out)."""

    def __init__(self, max_bytes: int = MAX_FRAME_BYTES) -> None:
        self.buf = bytearray()
        self.max_bytes = max_bytes

    def feed(self, data: bytes) -> None:
        self.buf += data

    def next(self) -> tuple[dict[str, Any], list[bytearray]] | None:
        """Return a complete frame if one is buffered, else None."""
        b = self.buf
        if len(b) < 4:
            return None
        (n,) = _HEAD.unpack_from(b, 0)
        if not 1 <= n <= MAX_PARTS:
            raise ProtocolError("bad part count")
        hdr = 4 + 8 * n
        if len(b) < hdr:
            return None
        lens = [_LEN.unpack_from(b, 4 + 8 * i)[0] for i in range(n)]
        if lens[0] > MAX_HEADER_BYTES:
            raise ProtocolError("header too large")
        total = hdr + sum(lens)
        if total > self.max_bytes:
            raise ProtocolError(f"frame of {total} bytes exceeds the limit")
        if len(b) < total:
            return None
        parts: list[bytearray] = []
        pos = hdr
        for ln in lens:
            parts.append(b[pos : pos + ln])  # a slice of a bytearray is a copy
            pos += ln
        del b[:total]
        try:
            header = json.loads(parts[0].decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise ProtocolError(f"bad header: {e}") from None
        if type(header) is not dict:
            raise ProtocolError("header is not an object")
        return header, parts[1:]


def read_frame(
    fd: int, reader: FrameReader | None = None
) -> tuple[dict[str, Any], list[bytearray]]:
    """Blocking read of one frame (used by the worker)."""
    reader = reader or FrameReader()
    while True:
        frame = reader.next()
        if frame is not None:
            return frame
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            raise EOFError("pipe closed")
        reader.feed(chunk)
