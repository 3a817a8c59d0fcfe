"""Models built on this machine from the shipped weights (an int8 ONNX export, a distilled static
model), cached in a models folder and published atomically.

An artifact is a folder named `<name>-<key>`, where the key hashes the source weights and the recipe
that built it: other weights or another recipe is another folder, never a stale one reused. It is
built in a temporary folder beside its final place and renamed into it, so a reader sees a whole
artifact or none. Builders of one artifact take an exclusive lock on `<folder>.lock` first, so two
processes starting together build it once (the second waits, then loads what the first published);
where the filesystem refuses the lock both build, the first rename wins and the other copy is dropped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lakehouse_assets.core.vectors.embedder.base import EmbeddingError

MANIFEST = "artifact.json"
SOURCE_FILES = ("config.json", "model.safetensors", "tokenizer.json", "1_Pooling/config.json")

_fingerprints: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}
_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


def source_fingerprint(model_dir: str | os.PathLike[str]) -> str:
    """SHA-256 over the model folder's weights, config and tokenizer (hashed once per process per version)."""
    root = Path(model_dir)
    stats = []
    for name in SOURCE_FILES:
        path = root / name
        if path.exists():
            st = path.stat()
            stats.append((name, st.st_size, st.st_mtime_ns))
    if not any(name == "model.safetensors" for name, _, _ in stats):
        raise EmbeddingError(f"no model.safetensors in {root}: not a model folder")
    key = (str(root.resolve()), tuple(stats))
    found = _fingerprints.get(key)
    if found is None:
        digest = hashlib.sha256()
        for name, _, _ in stats:
            digest.update(name.encode() + b"\0")
            with open(root / name, "rb") as f:
                for block in iter(lambda f=f: f.read(1 << 20), b""):
                    digest.update(block)
        found = _fingerprints[key] = digest.hexdigest()
    return found


def artifact_key(source: str, recipe: dict[str, Any]) -> str:
    """12 hex digits naming (source weights, recipe)."""
    blob = json.dumps({"source": source, "recipe": recipe}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Held by one thread of one process at a time (flock where the filesystem has it)."""
    with _thread_locks_guard:
        thread_lock = _thread_locks.setdefault(str(lock_path), threading.Lock())
    with thread_lock:
        try:
            import fcntl
        except ImportError:  # not POSIX: atomic rename alone keeps the folder whole
            yield
            return
        with open(lock_path, "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX)
            except OSError:  # e.g. a network filesystem without locks
                yield
                return
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_artifact(
    models_dir: str | os.PathLike[str],
    name: str,
    key: str,
    build: Callable[[Path], dict[str, Any]],
) -> tuple[Path, bool]:
    """The folder `<models_dir>/<name>-<key>`, built by `build(tmp_folder) -> manifest` if absent.

    Returns (folder, whether this call built it). The manifest (plus name, key, build seconds) is
    written last, into the temporary folder, and the folder renamed into place: a folder with a
    manifest is complete.
    """
    root = Path(models_dir)
    final = root / f"{name}-{key}"
    if read_manifest(final) is not None:
        return final, False
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise EmbeddingError(f"cannot create the models folder {root}: {e}") from e
    with _exclusive(root / f".{name}-{key}.lock"):
        if read_manifest(final) is not None:  # built by another process while this one waited
            return final, False
        if final.exists():  # an incomplete folder (a crash mid-rename is impossible; a hand edit is not)
            shutil.rmtree(final, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-{key}.", suffix=".tmp", dir=root))
        try:
            started = time.perf_counter()
            manifest = dict(build(tmp))
            manifest.update(name=name, key=key, build_seconds=round(time.perf_counter() - started, 3))
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
            try:
                os.rename(tmp, final)
            except OSError:
                if read_manifest(final) is None:  # not a lost race: a real failure
                    raise
                return final, False
            return final, True
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
