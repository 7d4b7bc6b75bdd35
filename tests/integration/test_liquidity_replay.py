"""The liquidity regime in a replay (the live pipeline on recorded bars), judged from the
decision records: three symbols on the same one-minute zigzag (0.7-0.8% a bar, 12 bars up,
12 down), in the conservative profile with a 5-bar regime window, THIN orders of at most
$200, a participation cap of 0.5% of the rolling volume and participation_mode = "block":

- WIDE: plenty of volume but 8% bar ranges (a wide spread): THIN; its entries are cut to
  $200 (LIQ_REGIME_THIN_SCALE) and then meet the halved window collar: a 3% run inside the
  300 s window passes the configured 500 bps but not THIN's 250 bps (PRICE_COLLAR_BLOCK with
  collar_mult 0.5, the order side's reason in the record's ``order``);
- SLIM: 2% ranges and 600 shares a bar: NORMAL, but its entries exceed the participation cap
  (3 shares) and are blocked (LIQ_PARTICIPATION_BLOCK);
- CALM: 2% ranges and plenty of volume: NORMAL, its orders go, no liquidity code and no
  collar block;

and a second replay of the same inputs writes byte-identical records.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.integration.daemon import read_jsonl, run

pytestmark = pytest.mark.e2e

BARS = 120
LEG = 12  # bars up, then as many down, and again
ENV = {
    "QUANTBOT__LIQUIDITY__CONSERVATIVE__PARTICIPATION_MODE": "block",
    "QUANTBOT__LIQUIDITY__CONSERVATIVE__LIQ_LOOKBACK_BARS": "5",
    "QUANTBOT__LIQUIDITY__CONSERVATIVE__THIN_MAX_ORDER_USD": "200",
    "QUANTBOT__LIQUIDITY__CONSERVATIVE__MAX_PARTICIPATION": "0.005",
    # An edge no cost can refuse: the cost gate passes every entry (with THIN's costs doubled
    # in its verdict), so what the liquidity regime itself does shows.
    "QUANTBOT__COST_GATE__EDGE_SCALE_BPS": "10000",
}
# symbol -> (bar volume, bar range as a fraction of the close)
SERIES = {"WIDE": (100_000.0, 0.08), "SLIM": (600.0, 0.02), "CALM": (100_000.0, 0.02)}


def _write(directory: Path) -> list[str]:
    """One CSV per symbol: one-minute bars from $100, moving 0.7-0.8% a bar, up for LEG
    bars, then down for LEG bars, and so on."""
    paths = []
    for symbol, (volume, range_) in SERIES.items():
        lines = ["date,open,high,low,close,volume"]
        close = 100.0
        for i in range(BARS):
            open_ = close
            up = (i // LEG) % 2 == 0
            move = 1.008 if i % 2 else 1.007
            close = round(open_ * move if up else open_ / move, 4)
            high = round(max(open_, close) * (1 + range_ / 2), 4)
            low = round(min(open_, close) * (1 - range_ / 2), 4)
            minute = f"2024-01-02T{10 + i // 60:02d}:{i % 60:02d}:00Z"
            lines.append(f"{minute},{open_},{high},{low},{close},{volume}")
        path = directory / f"{symbol}.csv"
        path.write_text("\n".join(lines) + "\n")
        paths.append(str(path))
    return paths


def _replay(workdir: Path, data: list[str], out: str) -> Path:
    done = run(workdir, "replay", "--data", *data, "--out", str(workdir / out), env=ENV)
    assert done.returncode == 0, done.stderr
    [replay_dir] = (workdir / out).glob("rp-*")
    return replay_dir / "decisions.jsonl"


def _refusals(records: list[dict], symbol: str) -> list[dict]:
    """Why ``symbol``'s decisions sent nothing: the step's reason, or the order side's."""
    found = []
    for r in records:
        if r["symbol"] == symbol:
            why = r["reason"] or (r.get("order") or {}).get("reason")
            if why is not None:
                found.append(why)
    return found


def _codes(records: list[dict], symbol: str) -> Counter[str]:
    """Every reason (the step's and the order side's) and clamp code of ``symbol``."""
    codes = Counter(why["code"] for why in _refusals(records, symbol))
    for r in records:
        if r["symbol"] == symbol:
            codes.update(c["code"] for c in r["clamps"])
    return codes


def test_thin_bars_engage_the_participation_block_and_the_stricter_collar(
    workdir: Path,
) -> None:
    data = _write(workdir)
    first = _replay(workdir, data, "one")
    records = [r for r in read_jsonl(first) if "decision_id" in r]  # no event lines
    assert records and all(set(r["liquidity"]) == {"regime", "score", "volume", "spread", "vol"}
                           for r in records)  # fmt: skip
    last = {r["symbol"]: r["liquidity"] for r in records}
    assert last["WIDE"]["regime"] == "THIN"
    assert last["SLIM"]["regime"] == last["CALM"]["regime"] == "NORMAL"
    assert last["WIDE"]["spread"] > 700 and last["CALM"]["spread"] < 300

    wide = _codes(records, "WIDE")
    assert wide["LIQ_REGIME_THIN_SCALE"] > 0
    # THIN widens the cost the cost gate models (thin_cost_mult); NORMAL does not.
    judged = [r["cost_gate"] for r in records if r["cost_gate"].get("verdict") in ("pass", "block")]
    assert any(v.get("thin_cost_mult") == 2.0 for v in judged)
    calm_judged = [r["cost_gate"] for r in records if r["symbol"] == "CALM"
                   and r["cost_gate"].get("verdict") in ("pass", "block")]  # fmt: skip
    assert calm_judged and not any("thin_cost_mult" in v for v in calm_judged)
    collars = [w for w in _refusals(records, "WIDE") if w["code"] == "PRICE_COLLAR_BLOCK"]
    assert collars, wide
    assert all(c["check"] == "window" and c["collar_mult"] == 0.5 for c in collars)
    assert all(250.0 < c["value_bps"] <= 500.0 and c["limit_bps"] == 250.0 for c in collars)

    slim = _codes(records, "SLIM")
    assert slim["LIQ_PARTICIPATION_BLOCK"] > 0, slim
    blocked = next(r for r in records if r["symbol"] == "SLIM" and r["reason"]
                   and r["reason"]["code"] == "LIQ_PARTICIPATION_BLOCK")  # fmt: skip
    assert blocked["intent"] is None and blocked["reason"]["mode"] == "block"
    assert blocked["reason"]["cap"] == "3"  # 0.5% of 600 a bar
    assert int(blocked["reason"]["wanted"]) > 3

    calm = _codes(records, "CALM")
    assert not [c for c in calm if c.startswith("LIQ") or c.startswith("PRICE_COLLAR")], calm
    assert any(r["intent"] for r in records if r["symbol"] == "CALM")

    second = _replay(workdir, data, "two")
    assert second.read_bytes() == first.read_bytes()
