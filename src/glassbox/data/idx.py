"""Read and write IDX files, the format of MNIST and of data sets that copy it.

An IDX file starts with a 4-byte magic number: two zero bytes, a type code (0x08 for
unsigned bytes) and the number of dimensions; then one big-endian uint32 per
dimension, then the data. MNIST's image files have magic 2051 (3 dimensions) and its
label files 2049 (1 dimension). Files may be gzipped; the gzip header is recognised
by its own magic bytes, whatever the file is called.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from glassbox.errors import DataError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
_GZIP_MAGIC = b"\x1f\x8b"
_UNSIGNED_BYTE = 0x08


def read_bytes(path: str | Path) -> bytes:
    """Return the file's content, decompressed if it is gzipped."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: expected an IDX file, found a directory") from None
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as error:
        raise DataError(f"{path}: corrupt or truncated gzip data ({error})") from None


def parse_idx(content: bytes, path: str | Path, expected_magic: int) -> np.ndarray:
    """Parse IDX content into a uint8 array, checking the magic number and the sizes."""
    kind = "images" if expected_magic == IMAGES_MAGIC else "labels"
    if len(content) < 4:
        raise DataError(f"{path}: too short for an IDX header ({len(content)} bytes)")
    (magic,) = struct.unpack(">I", content[:4])
    if magic != expected_magic:
        hint = " (a gzipped file would show 0x1f8b...)" if magic >> 16 != 0 else ""
        raise DataError(
            f"{path}: wrong IDX magic number {magic} (0x{magic:08x}); "
            f"expected {expected_magic} for MNIST {kind}{hint}"
        )
    type_code, ndim = content[2], content[3]
    if type_code != _UNSIGNED_BYTE:
        raise DataError(f"{path}: IDX type code 0x{type_code:02x}; only unsigned bytes (0x08) are supported")
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise DataError(f"{path}: truncated IDX header: {ndim} dimensions need {header_size} bytes")
    shape = struct.unpack(f">{ndim}I", content[4:header_size])
    expected_size = header_size + int(np.prod(shape, dtype=np.int64))
    if len(content) != expected_size:
        raise DataError(
            f"{path}: header says shape {tuple(shape)}, which needs {expected_size} bytes, "
            f"but the file has {len(content)} bytes (truncated or corrupt)"
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header_size).reshape(shape)


def read_images(path: str | Path) -> np.ndarray:
    """Read an IDX image file into a uint8 array of shape (n, height, width)."""
    return parse_idx(read_bytes(path), path, IMAGES_MAGIC)


def read_labels(path: str | Path) -> np.ndarray:
    """Read an IDX label file into a uint8 array of shape (n,), checking labels are 0-9."""
    return check_labels(parse_idx(read_bytes(path), path, LABELS_MAGIC), path)


def check_labels(labels: np.ndarray, path: str | Path) -> np.ndarray:
    """Return ``labels`` unchanged, or raise DataError naming the first label outside 0-9."""
    if labels.size and labels.max() > 9:
        bad = int(np.argmax(labels > 9))
        raise DataError(f"{path}: label {labels[bad]} at index {bad} is outside 0-9")
    return labels


def encode_idx(array: np.ndarray) -> bytes:
    """Encode a uint8 array as IDX bytes (the inverse of ``parse_idx``)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, _UNSIGNED_BYTE, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx(path: str | Path, array: np.ndarray, *, compress: bool = False) -> None:
    """Write a uint8 array as an IDX file, gzipped (with a fixed timestamp) if ``compress``."""
    content = encode_idx(array)
    if compress:
        content = gzip.compress(content, mtime=0)
    Path(path).write_bytes(content)
