"""Cached artifacts that cannot be read whole: found before the DAG is built, and set aside.

Every artifact this pipeline writes goes through :func:`facecluster.data.io.atomic_path`, so a job
killed mid-write never leaves a partial file under its final name. A file can still be damaged
after the fact — a copy to a full disk, a truncated transfer from another machine, a crash of the
file system — and Snakemake, which only compares modification times, would read it as a valid
cached result. :func:`find_damaged` checks each ``.npy`` / ``.npz`` / ``.pt`` / ``.json`` under a
results folder cheaply (the ``.npy`` header against the file size, a zip archive's central
directory and member extents, a JSON parse of files below 16 MB) without reading the arrays;
:func:`set_aside` renames each damaged file to ``<name>.damaged`` so that the workflow rebuilds it,
and says so.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

CHECKED = (".npy", ".npz", ".pt", ".json")
JSON_MAX_BYTES = 16 * 2**20


def _npy_problem(path: Path) -> str | None:
    size = path.stat().st_size
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(fh)
        offset = fh.tell()
    if dtype.hasobject:
        return None
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size != expected:
        return f"{size} bytes, its header (shape {shape}, {dtype}) needs {expected}"
    return None


def _zip_problem(path: Path) -> str | None:
    size = path.stat().st_size
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.header_offset + info.compress_size > size:
                return f"member {info.filename} extends past the end of the file"
    return None


def problem(path: str | os.PathLike) -> str | None:
    """Why the artifact at ``path`` cannot be read whole (None when it looks complete)."""
    path = Path(path)
    try:
        if path.suffix == ".npy":
            return _npy_problem(path)
        if path.suffix in (".npz", ".pt"):
            return _zip_problem(path)
        if path.suffix == ".json" and path.stat().st_size <= JSON_MAX_BYTES:
            json.loads(path.read_text())
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as err:
        return f"{type(err).__name__}: {err}"
    return None


def find_damaged(root: str | os.PathLike) -> list[tuple[str, str]]:
    """``(path, problem)`` of every damaged artifact under ``root`` (hidden temporary files skipped)."""
    out = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            if name.startswith(".") or not name.endswith(CHECKED):
                continue
            path = os.path.join(dirpath, name)
            why = problem(path)
            if why:
                out.append((path, why))
    return sorted(out)


def set_aside(damaged: list[tuple[str, str]]) -> list[str]:
    """Rename each damaged file to ``<path>.damaged`` (the workflow then rebuilds it); the messages."""
    messages = []
    for path, why in damaged:
        os.replace(path, path + ".damaged")
        messages.append(f"facecluster: {path} is damaged ({why}): moved to {path}.damaged; "
                        "the job that writes it runs again when anything needs it")
    return messages
