"""`quantbot replay` says how far it has got: a line per tenth of the bars, on stderr."""

from __future__ import annotations

import io
from pathlib import Path

from quantbot.cli.main import main

DAILY = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "daily"


def test_a_line_per_tenth_of_the_bars_in_order_then_the_result(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = Path(__file__).resolve().parents[3] / "config.toml"
    code = main(
        [
            "replay", "--config", str(config), "--data", str(DAILY / "AAPL.csv"),
            str(DAILY / "MSFT.csv"), "--to", "2001-12-31", "--out", str(tmp_path / "out"),
        ]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0
    lines = [line for line in err.splitlines() if line.startswith("replay: ")]
    assert [line.split("(")[1].split(")")[0] for line in lines] == [
        f"{10 * k}%" for k in range(1, 11)
    ]
    total = int(lines[-1].split(" of ")[1].split(" bars")[0].replace(",", ""))
    last = f"replay: {total:,} of {total:,} bars (100%), market time 2001-12-31"
    assert lines[-1].startswith(last)
    # stdout keeps the result, for scripts: no daemon status line before it
    assert out.splitlines()[0].startswith("replay rp-")
    assert f"{total} bars" in out
    assert "replay: " not in out


def test_progress_counts_bars_not_calls() -> None:
    from quantbot.cli.replay import ProgressLine

    out = io.StringIO()
    show = ProgressLine(out)
    for played in range(1, 31):  # 30 batches of one bar: a line each third bar, not each
        show(played, 30, played * 86_400 * 10**9)
    shown = [line.split(" bars")[0] for line in out.getvalue().splitlines()]
    assert shown == [f"replay: {n} of 30" for n in (3, 6, 9, 12, 15, 18, 21, 24, 27, 30)]
    show(30, 30, 0)  # nothing new: no line
    assert len(out.getvalue().splitlines()) == 10
