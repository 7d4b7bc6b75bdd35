"""Case 5 (control.json half): a corrupt ``state/control.json`` is an error naming the file,
line and column, from the daemon's start and from ``status``, ``kill`` and ``resume``; never
an orjson traceback, and never a kill or resume written over the state nobody could read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration.daemon import REPO_ROOT, run

pytestmark = pytest.mark.e2e

# Line 3, column 18: `tru` where `true` belongs.
TORN = b'{\n  "halt_code": null,\n  "kill_switch": tru\n}\n'
WRONG_TYPE = b'{\n  "kill_switch": false,\n  "disabled_symbols": "SIMA"\n}\n'


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(REPO_ROOT / "config.toml", tmp_path / "config.toml")
    (tmp_path / "state").mkdir(mode=0o700)
    return tmp_path


def _assert_named(result, where: str) -> None:
    err = result.stderr
    assert result.returncode == 1, (result.returncode, err)
    assert f"state/control.json:{where}" in err, err
    assert "Traceback" not in err and "JSONDecodeError" not in err, err


@pytest.mark.parametrize(
    "args",
    [
        ("run", "--execution-mode", "paper", "--duration", "2s"),
        ("status",),
        ("kill", "--reason", "drill"),
        ("resume",),
        ("resume", "--symbol", "SIMA"),
    ],
    ids=["run", "status", "kill", "resume", "resume-symbol"],
)
def test_a_torn_control_file_names_file_line_and_column(workdir: Path, args) -> None:
    control = workdir / "state" / "control.json"
    control.write_bytes(TORN)
    result = run(workdir, *args)
    _assert_named(result, "3:18")
    assert "not valid JSON" in result.stderr
    assert control.read_bytes() == TORN  # nothing was written over it
    assert not (workdir / "state" / "journal.jsonl").exists()  # nothing traded


def test_a_field_of_the_wrong_type_is_named_with_its_line(workdir: Path) -> None:
    (workdir / "state" / "control.json").write_bytes(WRONG_TYPE)
    for args in (("run", "--execution-mode", "paper", "--duration", "2s"), ("status",)):
        result = run(workdir, *args)
        _assert_named(result, "3:3")
        assert "disabled_symbols = 'SIMA': must be a list of symbols" in result.stderr
