"""The package definition a user installs from (issue 19): any Python from 3.11, the license
in PEP 639 form, a build backend that reads it without deprecation banners."""

from __future__ import annotations

import tomllib

from tests.conftest import REPO_ROOT

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def test_python_311_and_newer_are_accepted() -> None:
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"
    assert PYPROJECT["tool"]["ruff"]["target-version"] == "py311"  # nothing newer is used


def test_license_is_a_pep_639_expression_and_setuptools_reads_it() -> None:
    project = PYPROJECT["project"]
    assert isinstance(project["license"], str)  # not the deprecated { text = ... } table
    assert not any(c.startswith("License ::") for c in project.get("classifiers", []))
    assert "setuptools>=77" in PYPROJECT["build-system"]["requires"]  # PEP 639 support
    license_files = project.get("license-files", [])
    assert all(list(REPO_ROOT.glob(pattern)) for pattern in license_files)


def test_makefile_takes_python_311_or_newer() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "python3.13 python3.12 python3.11 python3" in makefile
    assert "sys.version_info < (3, 11)" in makefile
    assert "!= (3, 11)" not in makefile
