"""Cases 36/37/39/40: a TradeIntent with a malformed value (a size or qty <= 0, NaN, inf, an
absurd 1e308, a string or a bool where a number belongs, leverage <= 0, confidence outside
[0, 1]) is rejected with the field named, and never reaches the decision; ``qty`` is refused
(the inbox sizes in USD), not silently ignored. A value inside the sanity bounds but above a
configured limit is accepted and clamped, the clamp recorded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration.daemon import REPO_ROOT, read_jsonl, run
from tests.reliability.intent_rig import SYMBOL, IntakeRig, intent_line

HEAD = b'{"symbol": "SIMA", "side": "buy", '
USE_USD = "send size_usd (v1.0) or ai_size_usd (v1.1) instead of a quantity"

# (the line's tail after HEAD, the field named, words the problem must contain)
MALFORMED = [
    # the sizes, v1.0 and v1.1
    (b'"confidence": 0.8, "size_usd": 0}', "size_usd", "must be > 0"),
    (b'"confidence": 0.8, "size_usd": -250}', "size_usd", "must be > 0"),
    (b'"confidence": 0.8, "size_usd": NaN}', "size_usd", "finite number, got nan"),
    (b'"confidence": 0.8, "size_usd": Infinity}', "size_usd", "finite number, got inf"),
    (b'"confidence": 0.8, "size_usd": 1e999}', "size_usd", "finite number, got inf"),
    (b'"confidence": 0.8, "size_usd": 1e308}', "size_usd", "must be <= 1e+12 (MAX_USD)"),
    (b'"confidence": 0.8, "size_usd": "100"}', "size_usd", "must be a number, got str"),
    (b'"confidence": 0.8, "size_usd": true}', "size_usd", "must be a number, got bool"),
    (b'"confidence": 0.8, "schema_version": "1.1", "ai_size_usd": 0}', "ai_size_usd",
     "must be > 0"),
    (b'"confidence": 0.8, "schema_version": "1.1", "ai_size_usd": 1e308}', "ai_size_usd",
     "must be <= 1e+12 (MAX_USD)"),
    (b'"confidence": 0.8, "schema_version": "1.1", "ai_size_usd": -Infinity}', "ai_size_usd",
     "finite number, got -inf"),
    (b'"confidence": 0.8, "schema_version": "1.1", "risk_budget_usd": -1}', "risk_budget_usd",
     "must be > 0"),
    (b'"confidence": 0.8, "schema_version": "1.1", "risk_budget_usd": 1e308}',
     "risk_budget_usd", "must be <= 1e+12 (MAX_USD)"),
    (b'"confidence": 0.8, "schema_version": "1.1", "risk_budget_usd": "40"}',
     "risk_budget_usd", "must be a number, got str"),
    # the leverages
    (b'"confidence": 0.8, "leverage": 0}', "leverage", "must be >= 1"),
    (b'"confidence": 0.8, "leverage": -2}', "leverage", "must be >= 1"),
    (b'"confidence": 0.8, "leverage": NaN}', "leverage", "finite number, got nan"),
    (b'"confidence": 0.8, "leverage": 1e308}', "leverage", "must be <= 1000 (MAX_LEVERAGE)"),
    (b'"confidence": 0.8, "leverage": "3x"}', "leverage", "must be a number, got str"),
    (b'"confidence": 0.8, "leverage": false}', "leverage", "must be a number, got bool"),
    (b'"confidence": 0.8, "schema_version": "1.1", "ai_leverage": 0}', "ai_leverage",
     "must be >= 1"),
    (b'"confidence": 0.8, "schema_version": "1.1", "ai_leverage": 1e308}', "ai_leverage",
     "must be <= 1000 (MAX_LEVERAGE)"),
    # confidence
    (b'"confidence": 1.5}', "confidence", "must be in [0, 1]"),
    (b'"confidence": -0.1}', "confidence", "must be in [0, 1]"),
    (b'"confidence": NaN}', "confidence", "finite number, got nan"),
    (b'"confidence": "high"}', "confidence", "must be a number, got str"),
    (b'"confidence": true}', "confidence", "must be a number, got bool"),
    # a quantity: refused whatever its value, with what to send instead
    (b'"confidence": 0.8, "qty": 5}', "qty", USE_USD),
    (b'"confidence": 0.8, "qty": 0}', "qty", USE_USD),
    (b'"confidence": 0.8, "qty": -3}', "qty", USE_USD),
    (b'"confidence": 0.8, "schema_version": "1.1", "quantity": 2}', "quantity", USE_USD),
]  # fmt: skip


@pytest.mark.parametrize(("tail", "field", "problem"), MALFORMED)
def test_a_malformed_value_is_rejected_naming_the_field_and_never_trades(
    tmp_path: Path, tail: bytes, field: str, problem: str
) -> None:
    rig = IntakeRig(tmp_path)
    rig.warm_up()
    line = HEAD + tail
    rig.drop(line)

    [record] = rig.take()

    assert record["event"] == "INTENT_REJECTED"
    assert record["reason"]["code"] == "INTENT_REJECTED"
    assert record["reason"]["field"] == field
    assert problem in record["reason"]["problem"]
    assert (record["file"], record["line_no"], record["raw"]) == ("model.jsonl", 1, line.decode())
    # Nothing of it reaches the decision: the external sleeve has no intent, no order is made.
    assert rig.step.risk.external.live(SYMBOL) is None
    decision = rig.flat_bar()
    assert decision.record["sleeves"]["external"]["ready"] is False
    assert decision.intent is None
    rig.close()


def test_an_in_range_size_above_the_limits_is_clamped_by_the_governor_not_rejected(
    tmp_path: Path,
) -> None:
    # sizer.mode = "live": the intent's size replaces the AI sizer's (in "shadow" it is only
    # recorded beside the base size).
    rig = IntakeRig(tmp_path, {"QUANTBOT__SIZER__MODE": "live"})
    rig.warm_up()
    rig.drop(intent_line(intent_id="big", size_usd=1e9, leverage=500, confidence=0.9))

    [accepted] = rig.take()

    # Inside the sanity bounds (1e12 USD, 1000x): accepted, the leverage clamped to the profile.
    max_leverage = rig.config.risk_params.governor.max_leverage
    assert accepted["event"] == "INTENT_ACCEPTED"
    assert accepted["intent"]["size_usd"] == 1e9
    assert accepted["intent"]["leverage"] == max_leverage
    assert accepted["clamps"] == [
        {
            "code": "INTENT_LEVERAGE_CLAMP",
            "field": "leverage",
            "before": 500.0,
            "after": max_leverage,
            "min": 1.0,
            "max": max_leverage,
        }
    ]

    decision = rig.flat_bar()

    record = decision.record
    cap = rig.config.risk_params.governor.max_position_usd
    assert cap == 5000.0  # conservative
    assert record["sizer"]["ai"]["size_usd"] == 1e9
    assert record["sizer"]["ai"]["source"]["size"] == "intent"
    # The order is sent at the governor's maximum, and the record says who cut it.
    assert record["reason"] is None
    assert record["governor"]["approved"] is True
    assert record["governor"]["after"]["size"] == cap
    governor_clamps = [c for c in record["clamps"] if c["code"] == "GOVERNOR_SIZE_CLAMP"]
    assert governor_clamps == [
        {"code": "GOVERNOR_SIZE_CLAMP", "before": 10000.0, "after": cap, "max_position_usd": cap}
    ]
    assert decision.intent is not None and decision.intent.side.value == "BUY"
    assert float(decision.intent.qty) * 100.0 == cap  # price 100: 50 units = 5000 USD
    rig.close()


# -- the same, through `quantbot run` ------------------------------------------------------------

DAEMON_LINES = [
    (HEAD + b'"confidence": 0.8, "qty": 10}', "qty"),
    (HEAD + b'"confidence": 0.8, "size_usd": 1e308}', "size_usd"),
    (HEAD + b'"confidence": 0.8, "leverage": NaN}', "leverage"),
    (HEAD + b'"confidence": 0.8, "size_usd": "1000"}', "size_usd"),
    (HEAD + b'"confidence": 1.5}', "confidence"),
    (HEAD + b'"confidence": 0.8, "schema_version": "1.1", "ai_leverage": -1}', "ai_leverage"),
]


@pytest.mark.e2e
def test_the_daemon_records_each_malformed_intent_with_its_field_and_trades_none(
    tmp_path: Path,
) -> None:
    shutil.copy(REPO_ROOT / "config.toml", tmp_path / "config.toml")
    inbox = tmp_path / "runtime" / "inbox"
    inbox.mkdir(parents=True)
    (inbox / "model.jsonl").write_bytes(b"".join(line + b"\n" for line, _ in DAEMON_LINES))

    result = run(tmp_path, "run", "--execution-mode", "paper", "--duration", "2s")

    assert result.returncode == 0, result.stderr
    records = read_jsonl(tmp_path / "runtime" / "decisions.jsonl")
    taken = [r for r in records if str(r.get("event", "")).startswith("INTENT")]
    assert [(r["event"], r["line_no"], r["reason"]["field"]) for r in taken] == [
        ("INTENT_REJECTED", n, field) for n, (_, field) in enumerate(DAEMON_LINES, start=1)
    ]
    assert [r["raw"] for r in taken] == [line.decode() for line, _ in DAEMON_LINES]
    assert "send size_usd" in taken[0]["reason"]["problem"]
    sima = [r for r in records if r.get("symbol") == SYMBOL and "sleeves" in r]
    assert sima and not any(r["sleeves"]["external"]["ready"] for r in sima)
