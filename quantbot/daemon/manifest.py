"""What the daemon puts in its run manifest (DESIGN.md section 5)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quantbot.config.loader import to_plain
from quantbot.config.schema import redacted
from quantbot.records.manifest import build_manifest
from quantbot.records.redact import redact_tree
from quantbot.signals.configured import sleeves_manifest

if TYPE_CHECKING:
    from quantbot.daemon.daemon import Daemon


def manifest_for(daemon: Daemon, startup: dict[str, Any]) -> dict[str, Any]:
    config = daemon.config
    canary = list(config.pretrade.canary_symbols)
    manifest = build_manifest(
        run_id=daemon.run_id,
        started_ns=daemon.clock.now_ns(),
        execution_mode=daemon.mode,
        trading_profile=config.run.trading_profile,
        account_id=f"{daemon.venue.name}-{daemon.mode}",
        config=redacted(daemon.loaded.plain()),
        config_hash=daemon.loaded.hash,
        config_path=str(daemon.loaded.path) if daemon.loaded.path else None,
        env_keys=daemon.loaded.env_keys,
        feature_flags={
            "ai_sizer": config.sizer.mode,
            "intent_inbox": config.inbox.enabled,
            "governor_fail_open": config.governor.fail_open,
            "market_data": (
                f"{daemon.venue_stream.mode}: {daemon.venue_stream.why}"
                if daemon.venue_stream is not None
                else config.market.source
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
    # Limits the config file left to the schema's defaults (a live run has none: it refuses to
    # start with any, see config.limits).
    manifest["defaulted_limits"] = list(daemon.loaded.defaulted_limits)
    if canary:
        manifest["canary"] = {"code": "CANARY_MODE_ACTIVE", "symbols": canary}
    return manifest
