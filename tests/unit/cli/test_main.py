"""Command-line parsing that a user meets before anything starts."""

from __future__ import annotations

import argparse
import shutil

import pytest

from quantbot.cli.main import main, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("30", 30), ("10m", 600), ("1h30m", 5400), ("2h", 7200), ("0.5s", 0.5)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "10x", "-5s", "0s", "m"])
def test_bad_durations_name_the_flag(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="--duration"):
        parse_duration(text)


def test_missing_config_file_is_a_usage_error(tmp_path, capsys) -> None:
    assert main(["config", "check", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml: config file not found" in capsys.readouterr().err


def test_unknown_command_is_refused(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])  # not a command: a usage error, never a pretend success
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_walk_forward_without_its_windows_and_grid_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["walk-forward", "--data", "bars.csv"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "required: --train, --test, --step, --grid" in err


def test_replay_without_data_is_a_usage_error(tmp_path, monkeypatch, repo_root, capsys) -> None:
    # --data is required unless --against names a run to replay (issue 18): still exit 2,
    # naming both. Run where a user would, with the shipped config.toml, in a directory of
    # its own: the command's log goes to ./runtime/logs, never to the project's.
    shutil.copy(repo_root / "config.toml", tmp_path / "config.toml")
    monkeypatch.chdir(tmp_path)
    code = main(["replay"])
    assert code == 2
    err = capsys.readouterr().err
    assert "give --data PATH..." in err and "--against RUN" in err


def test_replay_of_a_missing_file_names_it(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)  # its runtime/ (the default runtime_dir) is tmp_path's
    config = tmp_path / "config.toml"
    config.write_text("")
    code = main(["replay", "--config", str(config), "--data", str(tmp_path / "nope.csv")])
    assert code == 2
    err = capsys.readouterr().err
    assert f"--data: no such file or directory: {tmp_path / 'nope.csv'}" in err


def test_replay_into_an_out_that_is_a_file_is_an_input_error(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)  # its runtime/ (the default runtime_dir) is tmp_path's
    bars = tmp_path / "AAPL.csv"
    bars.write_text(
        "date,open,high,low,close,volume\n"
        + "".join(f"2024-01-{d:02d},10,11,9,10.5,100\n" for d in range(2, 9))
    )
    out = tmp_path / "out"
    out.write_text("a file, not a directory")
    config = tmp_path / "config.toml"
    config.write_text("")
    code = main(["replay", "--config", str(config), "--data", str(tmp_path), "--out", str(out)])
    assert code == 2  # not a traceback
    assert f"--out {out}: cannot write the replay there" in capsys.readouterr().err
    assert out.read_text() == "a file, not a directory"
