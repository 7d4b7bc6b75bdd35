"""A model artifact: a directory holding the model file(s) and ``manifest.json``.

The manifest says what the model is and where it came from::

    {"format": 1, "version": "<sha256 of the sorted files' hashes, first 16 hex>",
     "kind": "logistic_regression", "files": {"model.json": "<sha256>"},
     "created": "<ISO UTC>", "training_data": {"from": ..., "to": ..., "files": [...]},
     "features": [...], "code": {"package_version": ..., "git_commit": ... or null},
     "validation": {...}}

``load_verified`` reads the manifest, checks its shape, reads every file it lists ONCE,
checks each file's sha256, and hands back those very bytes: what is parsed is what was
hashed, and nothing is read again afterwards (so a running daemon never swaps a model: a
file changed on disk after its start is not read until the next start, which verifies it).
Any problem is a ``ModelVerificationError`` naming the file and the mismatch.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import orjson

from quantbot.domain.errors import StartupError
from quantbot.fsutil import atomic_write

MANIFEST = "manifest.json"
FORMAT = 1
_SHA256 = re.compile(r"[0-9a-f]{64}")
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "format": int,
    "version": str,
    "kind": str,
    "files": dict,
    "created": str,
    "training_data": dict,
    "features": list,
    "code": dict,
}


class ModelVerificationError(StartupError):
    """A model artifact that must not be loaded: ``path`` is the file at fault."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"model artifact {path}: {problem}")
        self.path = path
        self.problem = problem


@attrs.frozen
class Verified:
    """A verified artifact: its manifest and the bytes of each file it lists."""

    directory: Path
    manifest: dict[str, Any]
    files: Mapping[str, bytes]
    manifest_sha256: str


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_verified(directory: Path) -> Verified:
    directory = Path(directory)
    path = directory / MANIFEST
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ModelVerificationError(path, f"cannot be read ({e.strerror or e})") from e
    try:
        manifest = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ModelVerificationError(path, f"is not JSON ({e})") from e
    _check_shape(path, manifest)
    files = {}
    for name, expected in manifest["files"].items():
        file = directory / name
        try:
            data = file.read_bytes()
        except OSError as e:
            raise ModelVerificationError(file, f"cannot be read ({e.strerror or e})") from e
        actual = sha256(data)
        if actual != expected:
            raise ModelVerificationError(
                file, f"sha256 mismatch: manifest says {expected}, the file is {actual}"
            )
        files[name] = data
    if manifest["version"] != version_of(manifest["files"]):
        raise ModelVerificationError(path, "version does not match the files' hashes")
    return Verified(directory, manifest, files, sha256(raw))


def _check_shape(path: Path, manifest: Any) -> None:
    if not isinstance(manifest, dict):
        raise ModelVerificationError(path, "must be a JSON object")
    for key, kind in _REQUIRED.items():
        if not isinstance(manifest.get(key), kind) or isinstance(manifest.get(key), bool):
            raise ModelVerificationError(path, f"{key!r} missing or not a {kind.__name__}")
    if manifest["format"] != FORMAT:
        raise ModelVerificationError(path, f"format {manifest['format']}, expected {FORMAT}")
    files = manifest["files"]
    if not files:
        raise ModelVerificationError(path, "'files' lists no file")
    for name, digest in files.items():
        if not _FILE_NAME.fullmatch(name) or name == MANIFEST:
            raise ModelVerificationError(path, f"file name {name!r} is not a plain file name")
        if not (isinstance(digest, str) and _SHA256.fullmatch(digest)):
            raise ModelVerificationError(path, f"files[{name!r}] is not a sha256 hex digest")


def version_of(files: Mapping[str, str]) -> str:
    return sha256("".join(f"{n}={files[n]}\n" for n in sorted(files)).encode())[:16]


def write_artifact(directory: Path, files: Mapping[str, bytes], about: Mapping[str, Any]) -> Path:
    """The files, then the manifest naming their hashes (last: until it is replaced whole, a
    half-written artifact fails verification rather than loading)."""
    directory.mkdir(parents=True, exist_ok=True)
    hashes = {name: sha256(data) for name, data in sorted(files.items())}
    for name, data in files.items():
        atomic_write(directory / name, data)
    manifest = {"format": FORMAT, "version": version_of(hashes), "files": hashes, **about}
    _check_shape(directory / MANIFEST, manifest)
    path = directory / MANIFEST
    atomic_write(path, orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))
    return path
