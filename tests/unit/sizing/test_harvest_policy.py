"""``ai_harvest_policy`` as a preset name or the seed's table {mode, stop_loss, take_profit,
trailing, max_hold} (issue 22 item 6): in the config, in a TradeIntent, and in the exits the
AI sizer proposes; bad shapes are errors naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from quantbot.config.risk import HarvestPresets, SizerParams
from quantbot.config.schema import load_config
from quantbot.domain.errors import ConfigError
from quantbot.domain.harvest import HarvestSpec
from quantbot.signals.intents import IntentError, parse_intent
from quantbot.sizing.ai_sizer import AISizer

SWING = HarvestPresets().swing  # tp 0.02, sl 0.01, trailing 0.01, max hold 500


def sizer(policy: HarvestSpec | None = None) -> AISizer:
    return AISizer(SizerParams(), HarvestPresets(), policy or HarvestSpec())


def propose(s: AISizer, confidence: float = 0.5, **hint: Any):
    return s.propose(confidence=confidence, equity=100_000.0, annual_vol=0.3,
                     venue_max_leverage=1.0, **hint)  # fmt: skip


def load(tmp_path: Path, line: str):
    path = tmp_path / "config.toml"
    path.write_text(f'[sizer]\nmode = "shadow"\n{line}\n', encoding="utf-8")
    return path, load_config(path, environ={})


def test_the_config_takes_the_seeds_table_and_the_sizer_proposes_its_exits(
    tmp_path: Path,
) -> None:
    _, loaded = load(
        tmp_path,
        'ai_harvest_policy = { mode = "swing", stop_loss = 0.004, take_profit = 0.05, '
        "trailing = 0.0, max_hold = 7 }",
    )
    spec = loaded.config.sizer.ai_harvest_policy.spec
    assert spec == HarvestSpec("SWING", 0.004, 0.05, 0.0, 7)
    # The resolved config (manifest, hash) shows the table as written.
    assert loaded.plain()["sizer"]["ai_harvest_policy"] == {
        "mode": "SWING", "stop_loss": 0.004, "take_profit": 0.05, "trailing": 0.0, "max_hold": 7,
    }  # fmt: skip
    # Confidence 0.1 would be SCALPER by the model; the config says SWING with these exits.
    proposal = propose(sizer(spec), confidence=0.1)
    assert proposal.harvest_policy == "SWING" and proposal.source["harvest_policy"] == "config"
    assert proposal.to_record()["harvest"] == {
        "take_profit_pct": 0.05, "stop_loss_pct": 0.004, "trailing_stop_pct": 0.0,
        "max_hold_bars": 7,
    }  # fmt: skip


def test_a_partial_table_keeps_the_presets_other_exits_and_auto_picks_by_confidence(
    tmp_path: Path,
) -> None:
    _, loaded = load(tmp_path, "ai_harvest_policy = { stop_loss = 0.002 }")
    spec = loaded.config.sizer.ai_harvest_policy.spec
    assert spec.mode == "AUTO"
    proposal = propose(sizer(spec), confidence=0.5)  # SWING by confidence (>= 0.4)
    assert proposal.harvest_policy == "SWING"
    assert proposal.harvest.stop_loss_pct == 0.002
    assert proposal.harvest.take_profit_pct == SWING.take_profit_pct
    assert proposal.harvest.max_hold_bars == SWING.max_hold_bars


def test_a_preset_name_still_works_and_auto_is_the_old_behaviour(tmp_path: Path) -> None:
    _, loaded = load(tmp_path, 'ai_harvest_policy = "TREND_RUNNER"')
    proposal = propose(sizer(loaded.config.sizer.ai_harvest_policy.spec), confidence=0.1)
    assert proposal.harvest_policy == "TREND_RUNNER"
    assert proposal.harvest == HarvestPresets().trend_runner
    default = propose(sizer(), confidence=0.1)
    assert default.harvest_policy == "SCALPER" and default.source["harvest_policy"] == "model"


@pytest.mark.parametrize(
    ("value", "named", "problem"),
    [
        ('{ mode = "SWING", stop = 0.01 }', "sizer.ai_harvest_policy.stop", "unknown key"),
        ("{ stop_loss = 1.5 }", "sizer.ai_harvest_policy.stop_loss", "fraction of the entry"),
        ('{ stop_loss = "1%" }', "sizer.ai_harvest_policy.stop_loss", "must be a number"),
        ("{ trailing = -0.1 }", "sizer.ai_harvest_policy.trailing", "[0, 1]"),
        ("{ max_hold = 0 }", "sizer.ai_harvest_policy.max_hold", "must be >= 1 bar"),
        ("{ max_hold = 2.5 }", "sizer.ai_harvest_policy.max_hold", "whole number of bars"),
        ('{ mode = "YOLO" }', "sizer.ai_harvest_policy.mode", "must be one of AUTO, SCALPER"),
        ('"YOLO"', "sizer.ai_harvest_policy", "must be one of AUTO, SCALPER"),
        ("3", "sizer.ai_harvest_policy", "a preset name"),
    ],
)
def test_bad_shapes_in_the_config_name_the_key_and_line(
    tmp_path: Path, value: str, named: str, problem: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[sizer]\nmode = "shadow"\nai_harvest_policy = {value}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert message.startswith(f"{path}:3: {named} = ")
    assert problem in message


def intent(policy: Any) -> dict[str, Any]:
    return {"schema_version": "1.1", "symbol": "SIMA", "side": "buy", "confidence": 0.7,
            "ai_harvest_policy": policy}  # fmt: skip


def test_an_intent_carries_the_seeds_table_into_the_proposal() -> None:
    parsed = parse_intent(intent({"mode": "scalper", "take_profit": 0.01, "max_hold": 12}))
    assert parsed.ai_harvest_policy == HarvestSpec("SCALPER", take_profit=0.01, max_hold=12)
    assert parsed.to_record()["ai_harvest_policy"] == {
        "mode": "SCALPER", "take_profit": 0.01, "max_hold": 12,
    }  # fmt: skip
    # The intent's policy replaces the config's.
    configured = sizer(HarvestSpec("TREND_RUNNER"))
    proposal = propose(configured, hint_harvest_policy=parsed.ai_harvest_policy)
    assert proposal.harvest_policy == "SCALPER" and proposal.source["harvest_policy"] == "intent"
    scalper = HarvestPresets().scalper
    assert (proposal.harvest.take_profit_pct, proposal.harvest.max_hold_bars) == (0.01, 12)
    assert proposal.harvest.stop_loss_pct == scalper.stop_loss_pct
    # The name form is unchanged.
    assert parse_intent(intent("swing")).ai_harvest_policy == "SWING"


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"mode": "SWING", "stoploss": 0.01}, "ai_harvest_policy.stoploss"),
        ({"stop_loss": 0}, "ai_harvest_policy.stop_loss"),
        ({"max_hold": True}, "ai_harvest_policy.max_hold"),
        ({"mode": 3}, "ai_harvest_policy.mode"),
        ("AUTO", "ai_harvest_policy"),  # a bare AUTO says nothing: the intent names a preset
        ([0.01], "ai_harvest_policy"),
    ],
)
def test_bad_shapes_in_an_intent_name_the_field(policy: Any, field: str) -> None:
    with pytest.raises(IntentError) as info:
        parse_intent(intent(policy))
    assert info.value.field == field


def test_an_environment_override_takes_either_shape_and_names_itself_when_wrong() -> None:
    env = "QUANTBOT__SIZER__AI_HARVEST_POLICY"
    named = load_config(None, environ={env: "swing"}).config.sizer.ai_harvest_policy.spec
    assert named == HarvestSpec("SWING")
    table = load_config(None, environ={env: '{ mode = "SWING", max_hold = 9 }'})
    assert table.config.sizer.ai_harvest_policy.spec == HarvestSpec("SWING", max_hold=9)
    with pytest.raises(ConfigError) as info:
        load_config(None, environ={env: "{ max_hold = 0 }"})
    assert str(info.value).startswith(f"environment {env}: sizer.ai_harvest_policy.max_hold = 0")
