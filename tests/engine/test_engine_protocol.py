"""Wire format: round trips, and rejection of anything that is not data."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from nnkit.sandbox.protocol import (
    FrameReader,
    ProtocolError,
    Ref,
    check_dtype,
    decode,
    encode,
    pack,
)

pytestmark = pytest.mark.engine


def roundtrip(value: object) -> object:
    tree, bufs = encode(value)
    reader = FrameReader()
    reader.feed(pack({"v": tree}, bufs))
    frame = reader.next()
    assert frame is not None
    header, parts = frame
    return decode(header["v"], parts, make_ref=lambda i: Ref(i))


@pytest.mark.parametrize(
    "dtype", ["f8", "f4", "f2", "i8", "i4", "i1", "u1", "u8", "?", "c16", "c8", ">f8", ">i4"]
)
def test_arrays_roundtrip_with_dtype_and_shape(dtype: str) -> None:
    a = (np.arange(24).reshape(2, 3, 4) % 3).astype(dtype)
    b = roundtrip(a)
    assert isinstance(b, np.ndarray)
    assert b.shape == a.shape and b.dtype.kind == a.dtype.kind
    assert b.dtype.itemsize == a.dtype.itemsize and np.array_equal(a, b)


def test_non_contiguous_empty_and_0d_arrays() -> None:
    a = np.arange(20.0).reshape(4, 5)[:, ::2]
    assert np.array_equal(roundtrip(a), a)
    assert roundtrip(np.zeros((0, 3))).shape == (0, 3)
    z = roundtrip(np.array(3.5))
    assert isinstance(z, np.ndarray) and z.shape == () and z == 3.5


def test_scalars_containers_and_special_floats() -> None:
    value = {
        "a": [1, 2.5, "s", None, True],
        "t": (np.float32(1.5), np.int64(7)),
        "nested": {"x": [np.ones(2)]},
        "nan": float("nan"),
        "inf": float("-inf"),
    }
    out = roundtrip(value)
    assert isinstance(out, dict)
    assert out["a"] == [1, 2.5, "s", None, True]
    assert isinstance(out["t"], tuple) and type(out["t"][0]) is np.float32
    assert type(out["t"][1]) is np.int64 and out["t"][1] == 7
    assert np.array_equal(out["nested"]["x"][0], np.ones(2))
    assert np.isnan(out["nan"]) and out["inf"] == float("-inf")


def test_refs_roundtrip() -> None:
    out = roundtrip((np.ones(1), Ref(5)))
    assert isinstance(out, tuple) and isinstance(out[1], Ref) and out[1].id == 5


@pytest.mark.parametrize(
    "value",
    [
        np.array([object(), 1], dtype=object),
        np.array(["a", "b"]),
        np.array([b"x"]),
        np.zeros(2, dtype=[("a", "f8")]),
        np.array(["2020-01-01"], dtype="datetime64[D]"),
        {1: 2},
        {"k": object()},
        b"bytes",
        bytearray(b"x"),
        {1, 2},
        lambda: 1,
        np.ma.masked_array([1.0, 2.0]),
        np.str_("x"),
    ],
)
def test_encode_rejects_non_data(value: object) -> None:
    with pytest.raises(ProtocolError):
        encode(value)


def test_encode_rejects_recursion() -> None:
    a: list[object] = []
    a.append(a)
    with pytest.raises(ProtocolError):
        encode(a)


@pytest.mark.parametrize(
    "tree",
    [
        {"t": "pickle", "v": "gASVCAAAAAAAAACMBHRlc3SULg=="},
        {"t": "nd", "d": "|O8", "s": [1], "b": 1},
        {"t": "nd", "d": "<U1", "s": [2], "b": 1},
        {"t": "nd", "d": "V8", "s": [1], "b": 1},
        {"t": "nd", "d": "<f8", "s": [3], "b": 1},  # size mismatch (buffer has 8 bytes)
        {"t": "nd", "d": "<f8", "s": [-1], "b": 1},
        {"t": "nd", "d": "<f8", "s": [1], "b": 9},
        {"t": "nd", "d": ["<f8"], "s": [1], "b": 1},
        {"t": "dict", "k": [1], "v": [2]},
        {"t": "float", "v": "__import__('os')"},
        {"t": "ref", "id": "x"},
        [1, 2],
    ],
)
def test_decode_rejects_unknown_tags_and_bad_arrays(tree: object) -> None:
    with pytest.raises(ProtocolError):
        decode(tree, [bytearray(8)], make_ref=lambda i: Ref(i))


def test_decode_rejects_refs_when_not_expected() -> None:
    with pytest.raises(ProtocolError):
        decode({"t": "ref", "id": 1}, [])


def test_check_dtype_accepts_only_numeric() -> None:
    assert check_dtype("<f8") == np.float64
    for bad in ("O", "|O", "<M8[D]", "S3", "f8,f8", "float64"):
        with pytest.raises(ProtocolError):
            check_dtype(bad)


def test_frame_reader_incremental_and_limits() -> None:
    data = pack({"x": 1}, [b"abc"])
    reader = FrameReader()
    for i in range(len(data)):  # byte by byte
        assert reader.next() is None
        reader.feed(data[i : i + 1])
    header, parts = reader.next()  # type: ignore[misc]
    assert header == {"x": 1} and bytes(parts[0]) == b"abc"
    big = FrameReader(max_bytes=100)
    big.feed(struct.pack("<I", 1) + struct.pack("<Q", 10**6))
    with pytest.raises(ProtocolError):
        big.next()
    junk = FrameReader()
    junk.feed(struct.pack("<I", 1) + struct.pack("<Q", 3) + b"\x80\x04.")  # a pickle
    with pytest.raises(ProtocolError):
        junk.next()
    notobj = FrameReader()
    body = json.dumps([1]).encode()
    notobj.feed(struct.pack("<I", 1) + struct.pack("<Q", len(body)) + body)
    with pytest.raises(ProtocolError):
        notobj.next()
