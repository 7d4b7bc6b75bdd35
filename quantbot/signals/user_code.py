"""A sleeve class of the user's own, named ``module:Class`` or ``path/file.py:Class``.

- ``package.module:Class`` is imported by name, as Python would: an installed package, or a
  directory on ``PYTHONPATH``.
- ``path/to/file.py:Class`` is one file of your own; a relative path is relative to the config
  file's directory. It is loaded under a private module name and ``sys.path`` is left alone,
  so it can import installed packages (quantbot, numpy ...) but not the files beside it (make
  a package for code spread over several files).

The module's file is hashed (sha256) when it is first loaded: the run manifest records the
hash beside the kind, so a record can be traced to the code that made it. A module is loaded
once per process: the config check and the decision step share it.

A module that does not import (``ImportError``, ``SyntaxError``, or a ``NameError`` at its
top level, the usual typo) is a ``SleeveCodeError`` naming the file and line where it
failed; the config check reports it at the ``kind`` line of the config file.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

import attrs


class SleeveCodeError(Exception):
    """A kind that names no usable sleeve class, and why."""


@attrs.frozen
class SleeveCode:
    """A sleeve class and the file it came from (``source`` is '' for a module without one)."""

    cls: type
    source: str
    sha256: str


# A file is loaded once per process: path -> (module, sha256 of the bytes loaded).
_FILES: dict[Path, tuple[ModuleType, str]] = {}
_HASHES: dict[str, str] = {}  # a package module's file -> its sha256


def load_user_class(kind: str, base_dir: Path) -> SleeveCode:
    """The class ``kind`` names; ``SleeveCodeError`` when it names none."""
    module_name, _, class_name = kind.rpartition(":")
    if not module_name or not class_name.isidentifier():
        raise SleeveCodeError("a class of your own is named 'module:Class' or 'path/file.py:Class'")
    if module_name.endswith(".py"):
        module, sha = _load_file(base_dir / module_name)
    else:
        module = _import(module_name, class_name, base_dir)
        sha = file_sha256(getattr(module, "__file__", None) or "")
    found = getattr(module, class_name, None)
    if found is None:
        classes = sorted(n for n, v in vars(module).items() if isinstance(v, type))
        raise SleeveCodeError(
            f"{module_name} has no {class_name} (its classes: {', '.join(classes) or 'none'})"
        )
    if not isinstance(found, type):
        raise SleeveCodeError(f"{module_name}:{class_name} is not a class")
    return SleeveCode(found, getattr(module, "__file__", None) or "", sha)


def file_sha256(path: str) -> str:
    """sha256 of a module's file ('' for none), read once per process."""
    if not path:
        return ""
    if path not in _HASHES:
        _HASHES[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return _HASHES[path]


def _load_file(path: Path) -> tuple[ModuleType, str]:
    path = path.resolve()
    if path in _FILES:
        return _FILES[path]
    try:
        source = path.read_bytes()
    except OSError as e:
        raise SleeveCodeError(f"cannot read {path}: {e.strerror}") from e
    sha = hashlib.sha256(source).hexdigest()
    # A private, stable name per file: dataclasses, attrs and pickle look classes up there.
    name = f"quantbot_user_sleeve_{path.stem}_{hashlib.sha256(bytes(path)).hexdigest()[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SleeveCodeError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        exec(compile(source, str(path), "exec"), module.__dict__)  # the bytes hashed above
    except (ImportError, SyntaxError, NameError) as e:
        del sys.modules[name]
        raise SleeveCodeError(f"{path} does not import: {_where(e)}") from e
    _FILES[path] = module, sha
    return module, sha


def _import(module_name: str, class_name: str, base_dir: Path) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name is not None and f"{module_name}.".startswith(f"{e.name}."):
            named = f"{module_name.replace('.', '/')}.py"
            beside = base_dir / named
            hint = (
                f"; the file {beside} is named by its path: '{named}:{class_name}'"
                if beside.is_file()
                else " (install it, or put its directory on PYTHONPATH; a file of your own "
                "is named by its path, 'path/file.py:Class', relative to the config file)"
            )
            raise SleeveCodeError(f"no module named {module_name}{hint}") from e
        raise SleeveCodeError(f"{module_name} does not import: {_where(e)}") from e
    except (ImportError, SyntaxError, NameError) as e:
        raise SleeveCodeError(f"{module_name} does not import: {_where(e)}") from e


def _where(error: BaseException) -> str:
    """``file:line: Type: message`` of where the import failed, in the user's code."""
    if isinstance(error, SyntaxError) and error.filename:
        return f"{error.filename}:{error.lineno}: SyntaxError: {error.msg}"
    frames = [
        f for f in traceback.extract_tb(error.__traceback__) if not f.filename.startswith("<")
    ]
    at = f"{frames[-1].filename}:{frames[-1].lineno}: " if frames else ""
    return f"{at}{type(error).__name__}: {error}"
