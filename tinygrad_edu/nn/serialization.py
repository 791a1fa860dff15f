"""Checkpoints: a portable, safe file format (never pickle).

One ``.npz`` file (loaded with ``allow_pickle=False``) holds every array, plus
an entry ``__meta__`` with JSON that describes the nested structure: dicts
(with string or integer keys), lists, tuples, numbers, strings, booleans and
None.  Files are written to a temporary file and renamed into place, so an
interrupted save never destroys the previous checkpoint (files.py).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_edu.files import atomic_path
from tinygrad_edu.tensor import Tensor

FORMAT = "tinygrad_edu-checkpoint"
VERSION = 1


def _encode(obj: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    if isinstance(obj, Tensor):
        obj = obj.data
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            raise TypeError(f"cannot save {where}: arrays must be numeric, got dtype {obj.dtype}.")
        key = f"array_{len(arrays)}"
        arrays[key] = obj
        return {"__array__": key}
    if isinstance(obj, np.generic):
        obj = obj.item()
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"__float__": repr(obj)}
    if isinstance(obj, list):
        return [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"cannot save {where}: dict keys must be str or int, got {type(k).__name__}.")
            items.append([k, _encode(v, arrays, f"{where}[{k!r}]")])
        return {"__dict__": items}
    raise TypeError(
        f"cannot save {where}: objects of type {type(obj).__name__} are not supported "
        "(use arrays, Tensors, numbers, strings, None and nested dicts/lists/tuples; "
        "for a module or optimizer save its state_dict())."
    )


def _decode(obj: Any, arrays: Any) -> Any:
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__array__" in obj:
        return arrays[obj["__array__"]]
    if "__float__" in obj:
        return float(obj["__float__"])
    if "__tuple__" in obj:
        return tuple(_decode(v, arrays) for v in obj["__tuple__"])
    if "__dict__" in obj:
        return {k: _decode(v, arrays) for k, v in obj["__dict__"]}
    raise ValueError(f"unknown entry {sorted(obj)} in checkpoint metadata")


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write obj (e.g. a state_dict, or a dict of several) to exactly ``path``, atomically."""
    arrays: dict[str, np.ndarray] = {}
    meta = {"format": FORMAT, "version": VERSION, "content": _encode(obj, arrays, "object")}
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with atomic_path(path) as temporary, open(temporary, "wb") as f:  # a file, so numpy adds no ".npz"
        np.savez(f, **arrays)


def load(path: str | os.PathLike) -> Any:
    """Read what ``save`` wrote.  Never unpickles: a file that needs pickle is refused."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}.")
    problem = f"{path} is not a valid tinygrad_edu checkpoint"
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as error:
        raise OSError(f"cannot read {path}: {error.strerror or error}") from None
    if magic.startswith(b"\x93NUMPY"):
        raise ValueError(f"{problem}: it is a single .npy array, not an .npz archive written by nn.save.")
    if not magic.startswith(b"PK\x03\x04"):
        raise ValueError(f"{problem}: it is not an .npz (zip) archive at all.")
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as error:  # noqa: BLE001  (the zip reader fails in many ways on a broken file)
        raise ValueError(f"{problem} (corrupt or truncated file: {type(error).__name__}: {error}).") from None
    try:
        with archive:
            return _read_archive(archive, problem, limit=4 * path.stat().st_size + 2**20)
    except ValueError as error:
        if "pickle" in str(error):
            raise ValueError(f"{problem}: it holds pickled Python objects, which are never loaded.") from None
        if str(error).startswith(problem):
            raise
        raise ValueError(f"{problem}: {error}.") from None
    except Exception as error:  # noqa: BLE001  (a hostile file may break the zip or npy reader anywhere)
        raise ValueError(f"{problem} (corrupt or truncated file: {type(error).__name__}: {error}).") from None


def _check_sizes(archive: np.lib.npyio.NpzFile, problem: str, limit: int) -> None:
    """Refuse, before numpy allocates anything, a member larger than ``limit`` once
    decompressed (nn.save does not compress, so a real member is never much larger
    than the whole file: a megabyte must not unpack to a gigabyte), and a member
    whose header promises more data than it holds."""
    for info in archive.zip.infolist():
        if info.file_size > limit:
            raise ValueError(
                f"{problem}: entry {info.filename} unpacks to {info.file_size:,} bytes, far more than the file holds."
            )
        with archive.zip.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(member)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(member)
        claimed = math.prod(shape) * dtype.itemsize
        if claimed > info.file_size:
            raise ValueError(
                f"{problem}: entry {info.filename} claims {claimed:,} bytes of data but holds {info.file_size:,}."
            )


def _read_archive(archive: np.lib.npyio.NpzFile, problem: str, limit: int) -> Any:
    _check_sizes(archive, problem, limit)
    if "__meta__" not in archive.files:
        raise ValueError(f"{problem}: the archive has no __meta__ entry (was it written by nn.save?).")
    meta = json.loads(archive["__meta__"].tobytes().decode())
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{problem}: its metadata does not name the format {FORMAT!r}.")
    if meta.get("version") != VERSION:
        raise ValueError(f"{problem}: format version {meta.get('version')} is not supported.")
    return _decode(meta["content"], archive)  # reads only the members the metadata names
