"""What the daemon puts in its run manifest (DESIGN.md section 5)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quantbot.config.loader import to_plain
from quantbot.config.schema import LoadedConfig, redacted
from quantbot.records.manifest import build_manifest
from quantbot.records.redact import redact_tree
from quantbot.signals.configured import sleeves_manifest

if TYPE_CHECKING:
    from quantbot.daemon.parts import Parts


def manifest_for(
    parts: Parts, loaded: LoadedConfig, *, started_ns: int, startup: dict[str, Any]
) -> dict[str, Any]:
    config = loaded.config
    canary = list(config.pretrade.canary_symbols)
    stream = parts.venue_stream
    manifest = build_manifest(
        run_id=parts.run_id,
        started_ns=started_ns,
        execution_mode=parts.mode,
        trading_profile=config.run.trading_profile,
        account_id=f"{parts.venue.name}-{parts.mode}",
        config=redacted(loaded.plain()),
        config_hash=loaded.hash,
        config_path=str(loaded.path) if loaded.path else None,
        env_keys=loaded.env_keys,
        feature_flags={
            "ai_sizer": config.sizer.mode,
            "intent_inbox": config.inbox.enabled,
            "governor_fail_open": config.governor.fail_open,
            "market_data": (
                f"{stream.mode}: {stream.why}" if stream is not None else config.market.source
            ),
            "market_source": config.market.source,
            "canary_mode": bool(canary),
            "cancel_all_on_kill": config.control.cancel_all_on_kill,
            "reconcile_on_mismatch": config.reconcile.on_mismatch,
            "alerts_webhook": bool(config.alerts.webhook_url),
        },
        canary_symbols=canary,
        startup=startup,
    )
    # The trading profile's resolved values of every decision-side risk stage: what each
    # decision record's "profile" and "config_hash" stand for.
    manifest["risk_params"] = to_plain(config.risk_params)
    # Each sleeve's kind, the sha256 of its class's source file, and its params: which code
    # made the records' sleeve targets (a user's file changes without a commit to name it).
    manifest["sleeves"] = redact_tree(sleeves_manifest(config))
    for sleeve in parts.step.sleeves:  # a model sleeve: the verified artifact it loaded
        model = getattr(sleeve, "model_artifact", None)
        if model is not None and sleeve.name in manifest["sleeves"]:
            manifest["sleeves"][sleeve.name]["model"] = model
    # Limits the config file left to the schema's defaults (a live run has none: it refuses to
    # start with any, see config.limits).
    manifest["defaulted_limits"] = list(loaded.defaulted_limits)
    if canary:
        manifest["canary"] = {"code": "CANARY_MODE_ACTIVE", "symbols": canary}
    return manifest
