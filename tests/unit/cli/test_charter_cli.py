"""`quantbot charter status|promote|demote` on a state directory: what a person sees and
what the log keeps."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from quantbot.cli.main import main


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[run]\nstate_dir = "{tmp_path / "state"}"\nruntime_dir = "{tmp_path / "runtime"}"\n'
        "[charter]\nenabled = true\n"
    )
    return path


def test_status_before_any_trial_says_what_each_domain_misses(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["charter", "status", "--config", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "charter on; scorecards to (no trials yet), window 90 days, trials held 5 bars"
    [sizer] = [line for line in out if line.startswith("sizer ")]
    assert "missing: prod_use_enabled = true in its policy; 75 more trials (0 of 75)" in sizer
    assert out[-1] == (
        "intent:<source> without a policy of its own: 75 trials, 82% success, "
        "confidence >= 0.92; never used (prod_use_enabled = false)"
    )


def test_promote_and_demote_are_logged_with_who_when_and_why(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("USER", "ana")
    monkeypatch.setenv("LOGNAME", "ana")
    args = ["--config", str(config), "--note"]
    assert main(["charter", "promote", "intent:gpt-rebal", *args, "reviewed"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("charter: intent:gpt-rebal promoted by ana at ")
    assert "not used yet; still missing: prod_use_enabled = true in its policy" in out
    assert main(["charter", "demote", "intent:gpt-rebal", *args, "drifted"]) == 0

    log = tmp_path / "state" / "charter_log.jsonl"
    assert log.stat().st_mode & 0o777 == 0o600
    entries = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    assert [(e["action"], e["domain"], e["note"], e["by"]) for e in entries] == [
        ("promote", "intent:gpt-rebal", "reviewed", "ana"),
        ("demote", "intent:gpt-rebal", "drifted", "ana"),
    ]
    assert all(e["at"].endswith("Z") for e in entries)

    capsys.readouterr()
    assert main(["charter", "status", "--json", "--config", str(config)]) == 0
    doc = orjson.loads(capsys.readouterr().out)["domains"]["intent:gpt-rebal"]
    assert doc["promoted"] is False and doc["last_act"]["note"] == "drifted"
    assert doc["policy"]["min_confidence_prod"] == 0.92  # the shared intent policy


@pytest.mark.parametrize("domain", ["intent", "model", "intent:", "intent:bad name"])
def test_a_name_that_is_not_a_domain_is_refused_and_nothing_logged(
    config: Path, tmp_path: Path, domain: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["charter", "promote", domain, "--note", "x", "--config", str(config)]) == 2
    assert "is not a domain" in capsys.readouterr().err
    assert not (tmp_path / "state" / "charter_log.jsonl").exists()
