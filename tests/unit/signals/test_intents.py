from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantbot.domain.errors import DataError
from quantbot.domain.reasons import ReasonCode
from quantbot.signals.intents import (
    HARVEST_POLICIES,
    MAX_INTENT_ID_CHARS,
    SIDES,
    IntentError,
    TradeIntent,
    parse_intent,
    parse_line,
)

V11_HINTS = {
    "ai_size_usd": 250.0,
    "ai_leverage": 3,
    "ai_harvest_policy": "swing",
    "risk_budget_usd": 40.0,
}


QTY_PROBLEM = (
    "not accepted: the inbox sizes intents in USD; send size_usd (v1.0) or ai_size_usd (v1.1)"
    " instead of a quantity"
)


def base(**fields: Any) -> dict[str, Any]:
    return {"symbol": "BTC/USDT", "side": "buy", "confidence": 0.7, **fields}


def rejected_field(obj: Any) -> IntentError:
    with pytest.raises(IntentError) as info:
        parse_intent(obj)
    return info.value


def test_v10_intent_is_accepted_with_defaults() -> None:
    intent = parse_line(
        '{"schema_version": "1.0", "symbol": "ETH/USDT", "side": "SELL", "confidence": 0.4,'
        ' "size_usd": 100, "leverage": 2.5, "intent_id": "abc", "ts": "2026-01-02T03:04:05Z"}'
    )
    assert intent == TradeIntent(
        schema_version="1.0",
        symbol="ETH/USDT",
        side="sell",
        confidence=0.4,
        size_usd=100.0,
        leverage=2.5,
        intent_id="abc",
        ts="2026-01-02T03:04:05Z",
    )
    assert intent.direction == -1


def test_missing_version_reads_as_v10() -> None:
    assert parse_intent(base()).schema_version == "1.0"


def test_version_key_alias_is_accepted() -> None:
    assert parse_intent(base(version="1.1", **V11_HINTS)).ai_size_usd == 250.0


def test_v11_optional_fields_are_accepted_and_normalised() -> None:
    intent = parse_intent(base(schema_version="1.1", **V11_HINTS))
    assert intent.schema_version == "1.1"
    assert intent.ai_size_usd == 250.0
    assert intent.ai_leverage == 3.0
    assert intent.ai_harvest_policy == "SWING"
    assert intent.risk_budget_usd == 40.0
    assert intent.extra == {}


def test_v10_does_not_interpret_v11_fields_but_keeps_them() -> None:
    # Even an invalid v1.1 value is not an error in a 1.0 line: the producer does not know it.
    intent = parse_intent(base(schema_version="1.0", ai_leverage=0.1, ai_harvest_policy="x"))
    assert intent.ai_leverage is None
    assert intent.ai_harvest_policy is None
    assert intent.extra == {"ai_leverage": 0.1, "ai_harvest_policy": "x"}


def test_later_minor_version_reads_as_v11_and_keeps_new_fields() -> None:
    intent = parse_intent(base(schema_version="1.3", ai_leverage=4, new_hint={"a": 1}))
    assert intent.schema_version == "1.1"
    assert intent.ai_leverage == 4.0
    assert intent.extra == {"new_hint": {"a": 1}, "schema_version": "1.3"}


def test_unknown_fields_are_allowed_and_kept() -> None:
    intent = parse_intent(base(model="gpt-x", notes=["a", 2], score=None))
    assert intent.extra == {"model": "gpt-x", "notes": ["a", 2], "score": None}
    assert intent.to_record()["extra"] == intent.extra


@pytest.mark.parametrize(
    ("obj", "field", "problem"),
    [
        ({"side": "buy", "confidence": 0.5}, "symbol", "missing required field"),
        ({"symbol": "X", "confidence": 0.5}, "side", "missing required field"),
        (base(symbol="  "), "symbol", "must be a non-empty string"),
        (base(symbol=5), "symbol", "must be a string, got int"),
        (base(side="hold"), "side", "must be one of buy, sell, flat, got 'hold'"),
        (base(confidence="0.5"), "confidence", "must be a number, got str"),
        (base(confidence=1.5), "confidence", "must be in [0, 1], got 1.5"),
        (base(confidence=-0.1), "confidence", "must be in [0, 1], got -0.1"),
        (base(confidence=math.nan), "confidence", "must be finite, got nan"),
        (base(confidence=10**400), "confidence", "must be finite, got a number out of range"),
        (base(size_usd=0), "size_usd", "must be > 0, got 0.0"),
        (base(size_usd=math.inf), "size_usd", "must be finite, got inf"),
        (base(leverage=True), "leverage", "must be a number, got bool"),
        (base(leverage=0.5), "leverage", "must be >= 1, got 0.5"),
        (
            base(schema_version="1.1", ai_harvest_policy="YOLO"),
            "ai_harvest_policy",
            "must be one of SCALPER, SWING, TREND_RUNNER, got 'YOLO'",
        ),
        (
            base(schema_version="1.1", risk_budget_usd=-5),
            "risk_budget_usd",
            "must be > 0, got -5.0",
        ),
        (base(schema_version="2.0"), "schema_version", "major version 2 is not supported"),
        (base(schema_version=1.1), "schema_version", "must be a string like '1.1', got 1.1"),
        (base(schema_version="one"), "schema_version", "must look like '1.1', got 'one'"),
        (base(version="3"), "version", "major version 3 is not supported"),
        (base(intent_id=7), "intent_id", "must be a string, got int"),
        (base(intent_id=" "), "intent_id", "must be a non-empty string when given"),
        (
            base(intent_id="x" * (MAX_INTENT_ID_CHARS + 1)),
            "intent_id",
            f"must be at most {MAX_INTENT_ID_CHARS} characters, got {MAX_INTENT_ID_CHARS + 1}",
        ),
        (base(size_usd=1e308), "size_usd", "must be <= 1e+12 (MAX_USD), got 1e+308"),
        (base(size_usd=-1), "size_usd", "must be > 0, got -1.0"),
        (base(leverage=1e308), "leverage", "must be <= 1000 (MAX_LEVERAGE), got 1e+308"),
        (base(leverage=0), "leverage", "must be >= 1, got 0.0"),
        (
            base(schema_version="1.1", ai_size_usd=1e13),
            "ai_size_usd",
            "must be <= 1e+12 (MAX_USD), got 10000000000000.0",
        ),
        (
            base(schema_version="1.1", ai_leverage=-3),
            "ai_leverage",
            "must be >= 1, got -3.0",
        ),
        (
            base(schema_version="1.1", risk_budget_usd=2e12),
            "risk_budget_usd",
            "must be <= 1e+12 (MAX_USD), got 2000000000000.0",
        ),
        (base(qty=1), "qty", QTY_PROBLEM),
        (base(schema_version="1.1", quantity=-1), "quantity", QTY_PROBLEM),
        ([base()], "<line>", "not a JSON object (got list)"),
        ("buy", "<line>", "not a JSON object (got str)"),
    ],
)
def test_malformed_intent_is_rejected_naming_the_field(obj: Any, field: str, problem: str) -> None:
    err = rejected_field(obj)
    assert (err.field, err.problem) == (field, problem)
    assert str(err) == f"{field}: {problem}"
    assert isinstance(err, DataError)


def test_invalid_json_is_rejected_as_the_line() -> None:
    with pytest.raises(IntentError) as info:
        parse_line('{"symbol": "X", "side": ')
    assert info.value.field == "<line>"
    assert info.value.problem.startswith("invalid JSON: ")
    assert len(info.value.problem) <= len("invalid JSON: ") + 80


X = '{"symbol": "X", "side": "buy", '


@pytest.mark.parametrize(
    ("text", "field", "shown"),
    [
        (X + '"confidence": NaN}', "confidence", "nan"),
        (X + '"confidence": 0.5, "size_usd": Infinity}', "size_usd", "inf"),
        (X + '"confidence": 0.5, "leverage": -Infinity}', "leverage", "-inf"),
        (X + '"confidence": 0.5, "size_usd": 1e999}', "size_usd", "inf"),
        (X + '"confidence": 0.5, "note": [1, NaN]}', "note", "nan"),
    ],
)
def test_a_number_json_cannot_hold_names_its_field(text: str, field: str, shown: str) -> None:
    # Python's json.dumps writes NaN and Infinity by default: the producer must learn which.
    with pytest.raises(IntentError) as info:
        parse_line(text)
    assert (info.value.field, info.value.problem) == (
        field,
        f"must be a finite number, got {shown} (not valid JSON)",
    )


def test_a_number_too_large_for_a_double_names_its_field() -> None:
    text = '{"symbol": "X", "side": "buy", "confidence": 0.5, "size_usd": 1' + "0" * 400 + "}"
    with pytest.raises(IntentError) as info:
        parse_line(text)
    assert (info.value.field, info.value.problem) == (
        "size_usd",
        "must be a finite number, got a number out of range (not valid JSON)",
    )


def test_qty_null_means_absent() -> None:
    intent = parse_intent(base(qty=None))
    assert intent.extra == {}


def test_values_at_the_sanity_bounds_are_accepted() -> None:
    intent = parse_intent(
        base(schema_version="1.1", size_usd=1e12, leverage=1000, ai_size_usd=1e12, ai_leverage=1)
    )
    assert (intent.size_usd, intent.leverage, intent.ai_size_usd) == (1e12, 1000.0, 1e12)


def test_direct_construction_rejects_nan_too() -> None:
    with pytest.raises(IntentError, match="confidence: must be finite"):
        TradeIntent(schema_version="1.0", symbol="X", side="buy", confidence=math.nan)


def test_direction_of_each_side() -> None:
    assert [parse_intent(base(side=s)).direction for s in SIDES] == [1, -1, 0]


def test_normalized_clamps_leverage_up_and_down_with_reasons() -> None:
    intent = parse_intent(base(schema_version="1.1", leverage=50, ai_leverage=1.5))
    clamped, reasons = intent.normalized(min_leverage=2.0, max_leverage=20.0)
    assert clamped.leverage == 20.0
    assert clamped.ai_leverage == 2.0
    assert [r.code for r in reasons] == [ReasonCode.INTENT_LEVERAGE_CLAMP] * 2
    assert [r.to_record() for r in reasons] == [
        {
            "code": "INTENT_LEVERAGE_CLAMP",
            "field": "leverage",
            "before": 50.0,
            "after": 20.0,
            "min": 2.0,
            "max": 20.0,
        },
        {
            "code": "INTENT_LEVERAGE_CLAMP",
            "field": "ai_leverage",
            "before": 1.5,
            "after": 2.0,
            "min": 2.0,
            "max": 20.0,
        },
    ]
    assert intent.leverage == 50.0  # the original is unchanged


def test_normalized_within_bounds_or_absent_changes_nothing() -> None:
    intent = parse_intent(base(leverage=5))
    assert intent.normalized(1.0, 20.0) == (intent, [])
    bare = parse_intent(base())
    assert bare.normalized(2.0, 3.0) == (bare, [])


def test_normalized_refuses_inverted_bounds() -> None:
    with pytest.raises(ValueError, match="min_leverage <= max_leverage"):
        parse_intent(base()).normalized(10.0, 2.0)


def test_to_record_is_json_ready_and_complete() -> None:
    intent = parse_intent(base(schema_version="1.1", intent_id="i-1", foo=1, **V11_HINTS))
    record = orjson.loads(orjson.dumps(intent.to_record()))
    assert record == {
        "schema_version": "1.1",
        "symbol": "BTC/USDT",
        "side": "buy",
        "confidence": 0.7,
        "size_usd": None,
        "leverage": None,
        "ai_size_usd": 250.0,
        "ai_leverage": 3.0,
        "ai_harvest_policy": "SWING",
        "risk_budget_usd": 40.0,
        "intent_id": "i-1",
        "ts": None,
        "extra": {"foo": 1},
    }


KNOWN_KEYS = [
    "schema_version",
    "version",
    "symbol",
    "side",
    "confidence",
    "size_usd",
    "leverage",
    "ai_size_usd",
    "ai_leverage",
    "ai_harvest_policy",
    "risk_budget_usd",
    "intent_id",
    "ts",
    "qty",
    "quantity",
]
NUMBER_FIELDS = (
    "confidence",
    "size_usd",
    "leverage",
    "ai_size_usd",
    "ai_leverage",
    "risk_budget_usd",
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0.0, max_value=1.0),
    st.text(max_size=8),
    st.sampled_from([*SIDES, "BUY", "hold", *HARVEST_POLICIES, "swing", "1.0", "1.1", "1.9"]),
    st.sampled_from(["2.0", "0.9", "1", "1.1.1", "BTC/USDT"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)


keys = st.sampled_from(KNOWN_KEYS) | st.text(max_size=6)
valid = st.fixed_dictionaries(
    {
        "symbol": st.sampled_from(["BTC/USDT", "SPY"]),
        "side": st.sampled_from([*SIDES, "Sell"]),
        "confidence": st.floats(min_value=0.0, max_value=1.0),
    }
)
# Arbitrary dicts are nearly always rejected; mutated valid ones also reach the accepting path.
json_like_dicts = st.dictionaries(keys, json_values) | st.builds(
    lambda good, changes: {**good, **changes}, valid, st.dictionaries(keys, json_values, max_size=3)
)


@given(json_like_dicts)
def test_parse_intent_returns_a_sound_intent_or_names_a_field(obj: dict[str, Any]) -> None:
    try:
        intent = parse_intent(obj)
    except IntentError as e:
        assert e.field in {*KNOWN_KEYS, "<line>"}
        assert e.problem
        return
    assert 0.0 <= intent.confidence <= 1.0
    assert intent.side in SIDES
    assert intent.schema_version in {"1.0", "1.1"}
    for name in NUMBER_FIELDS:
        value = getattr(intent, name)
        assert value is None or (math.isfinite(value) and value <= 1e12)
    assert "qty" not in intent.extra


def test_source_names_the_model_and_a_bad_one_rejects_the_line() -> None:
    intent = parse_intent(base(source="gpt-rebal.v2"))
    assert intent.source == "gpt-rebal.v2" and intent.to_record()["source"] == "gpt-rebal.v2"
    assert "source" not in parse_intent(base()).to_record()  # a person's intent, as before
    for bad in ("", "has space", "-leading", "x" * 65, 7):
        with pytest.raises(IntentError) as info:
            parse_intent(base(source=bad))
        assert info.value.field == "source"
