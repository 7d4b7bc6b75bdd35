"""What each reason code means to an operator; the README table is generated from this.

``python -m quantbot.domain.reason_docs`` prints the Markdown table; a test keeps the README
and this file in step with the ``ReasonCode`` enum.
"""

from __future__ import annotations

from quantbot.domain.reasons import ReasonCode

MEANING: dict[ReasonCode, str] = {
    ReasonCode.DATA_NON_FINITE: "a bar had NaN or infinite prices or volume; dropped",
    ReasonCode.DATA_NON_POSITIVE: "a price was zero or negative, or volume negative; dropped",
    ReasonCode.DATA_OHLC_INCONSISTENT: "high below open/close or low above them; dropped",
    ReasonCode.DATA_TIMESTAMP_NOT_INCREASING: "a bar not newer than the last one; dropped",
    ReasonCode.DATA_STALE: "a bar that closed longer ago than data_contract.max_staleness_s",
    ReasonCode.DATA_PRICE_JUMP: "price moved more than max_jump_fraction (e.g. an unadjusted "
    "split): bar dropped, the symbol's signals restart their warm-up",
    ReasonCode.DATA_JUMP_ACCEPTED: "a move beyond max_jump_fraction kept as a market event "
    "(jump_policy auto or accept): the bar is traded, the record says so",
    ReasonCode.SIGNAL_WARMUP: "no sleeve has enough history yet",
    ReasonCode.NETTING_DEADBAND: "the net target moved less than the profile's deadband",
    ReasonCode.SIZE_BELOW_LOT: "the order would be smaller than one lot",
    ReasonCode.SIZE_BELOW_MIN_NOTIONAL: "the order value is below the instrument's minimum",
    ReasonCode.ORDER_WORKING_BLOCK: "an order for this symbol is still working; no stacking",
    ReasonCode.EXEC_SHADOW_NOT_SENT: "shadow mode: the order was decided and recorded, not sent",
    ReasonCode.HALT_ACTIVE: "trading is halted (see `quantbot status`); nothing new is sent",
    ReasonCode.HALT_TASK_CRASHED: "a daemon task crashed; trading halted until `resume`",
    ReasonCode.HALT_INVARIANT_VIOLATION: "a value that must never exist did (NaN, negative "
    "price, overfill); trading halted until `resume`",
    ReasonCode.HALT_PROGRAMMING_ERROR: "a bug (TypeError, KeyError ...) in the decision or "
    "order path; trading halted until `resume`",
    ReasonCode.HALT_BREAKER_ESCALATED: "a broker breaker (broker_submit, broker_open_orders, "
    "broker_positions) escalated to level 2 (a 429 or outage storm): trading halted until "
    "`resume`, with an alert",
    ReasonCode.HALT_LOOP_STALLED: "the event loop did not run for more than "
    "watchdog.max_loop_lag_s (lag_s, limit_s): halted before any later bar was decided, "
    "until `resume`",
    ReasonCode.KILL_SWITCH_ACTIVE: "a person engaged the kill switch; it survives restarts",
    ReasonCode.OPERATOR_RESUMED: "a person ran `quantbot resume`: the kill switch, halt or "
    "reduce-only (was) cleared while the daemon ran (a RESUME record)",
    ReasonCode.KILL_SWITCH_LATE_CANCEL: "an order that adds risk became working after the "
    "kill switch engaged (its submit was in flight, or a look-up found it late): cancelled at "
    "once",
    ReasonCode.SHUTDOWN_IN_PROGRESS: "the daemon is stopping; no new orders",
    ReasonCode.VENUE_REJECTED: "the venue refused the order (context says why)",
    ReasonCode.VENUE_DUPLICATE_CLIENT_ID: "that client order id was already used; the order "
    "is never sent a second time",
    ReasonCode.VENUE_INSUFFICIENT_FUNDS: "the order would exceed the account's buying power",
    ReasonCode.VENUE_UNKNOWN_SYMBOL: "the venue does not list the symbol",
    ReasonCode.RECONCILE_ADOPTED: "at start-up, an order found at the venue was taken into "
    "the ledger (from the journal, or as external)",
    ReasonCode.RECONCILE_NOT_FOUND: "the venue proved it never held an order whose outcome "
    "was unknown (unknown to a look-up and to a cancel by client id after "
    "oms.visibility_window_s): settled NOT_SENT, never re-sent",
    ReasonCode.RECONCILE_POSITION_MISMATCH: "ledger and venue disagree on a position; "
    "trading halted until a person checks",
    ReasonCode.RECONCILE_RESURRECTED: "an order settled NOT_SENT or REJECTED showed up at the "
    "venue (a fill or a look-up): it is working again and its fills are booked to it",
    ReasonCode.RECONCILE_EXTERNAL_INVENTORY: "venue positions found when the journal began (a "
    "first start, or a journal gone missing) were adopted as external inventory, which the "
    'sleeves do not trade unless reconcile.external_inventory = "manage"',
    ReasonCode.RECONCILE_JOURNAL_MISSING: "the journal is gone but state/ shows there was "
    "one: the venue's orders and positions were adopted as external and only risk-reducing "
    "orders go until `quantbot resume`",
    ReasonCode.LIQUIDITY_THIN_BLOCK: "the bar traded less value than the profile's "
    "min_bar_notional (or fewer units than min_bar_volume); no new risk",
    ReasonCode.LIQUIDITY_PARTICIPATION_CLAMP: "order cut to the participation cap: "
    "max_participation of the mean bar volume of the last liq_lookback_bars bars",
    ReasonCode.LIQ_PARTICIPATION_BLOCK: "an entry above the participation cap was blocked: "
    'participation_mode = "block", or scaling it to the cap would leave less than min_scale',
    ReasonCode.LIQ_REGIME_THIN_SCALE: "in a THIN liquidity regime an entry was cut to "
    "thin_max_order_usd (blocked when that is less than a lot)",
    ReasonCode.SHORT_NOT_ALLOWED_CLAMP: "a short target on an instrument the venue does not let "
    "this account short (spot crypto) was cut to flat",
    ReasonCode.SIZER_POSITION_CAP: "target capped at the profile's max_position_usd",
    ReasonCode.MODEL_VERIFICATION_FAILED: "a live run's model artifact failed verification (a "
    "file's sha256 or the manifest's shape): trading halted, the sleeve runs without its model",
    ReasonCode.AUTH_HALT: "the venue refused our credentials (401/403): trading halted, "
    "cancel-all attempted",
    ReasonCode.RATE_LIMIT_RETRY: "the venue rate-limited us (429): reads retried with backoff, "
    "the breaker counts it",
    ReasonCode.NET_RETRY: "timeout or connection error: reads retried, the breaker counts it",
    ReasonCode.DATA_BAD_PAYLOAD: "a data provider sent values that fail validation; symbol skipped",
    ReasonCode.PROVIDER_SCHEMA_DISABLE: "a provider's reply no longer has the expected shape; "
    "provider disabled",
    ReasonCode.BROKER_STATE_SKIP: "the broker's account state refused the action (e.g. "
    "funds); symbol skipped",
    ReasonCode.ERROR_UNKNOWN_HALT: "an error nobody classified in the order path: halted "
    "(fail closed)",
    ReasonCode.VENUE_CLOCK_SKEW: "the venue refused a signed request for its timestamp "
    "(Binance -1021): nothing done, the offset to its clock re-measured (venue_ahead_ms); "
    "reads retried, a submit settled NOT_SENT",
    ReasonCode.HALT_CLOCK_SKEW: "clock skew came back venue.ccxt.clock_skew_halt_after times "
    "within clock_skew_window_s despite re-syncing: trading halted until `resume`",
    ReasonCode.PROVIDER_DISABLED: "a provider (provider) is disabled until `until` "
    "([providers] disable_s) after it sent a reply of the wrong shape: what depends on it "
    "is refused (blocks says what: orders or reads), or served by the fallback (fallback)",
    ReasonCode.PROVIDER_ENABLED: "a disabled provider's disable_s is over: it is used again",
    ReasonCode.DATA_FALLBACK_ACTIVE: "data_primary is down (cause: disabled, or its breaker "
    "open): bars come from [providers] data_fallback, continuing after after_bars",
    ReasonCode.DATA_FALLBACK_ENDED: "data_primary is back: bars come from it again, "
    "continuing after after_bars (bars_from_fallback: how many the fallback gave)",
    ReasonCode.CIRCUIT_OPEN_broker_submit: "the broker_submit breaker is open: no new orders",
    ReasonCode.CIRCUIT_OPEN_broker_positions: "the broker_positions breaker is open",
    ReasonCode.CIRCUIT_OPEN_broker_open_orders: "the broker_open_orders breaker is open",
    ReasonCode.CIRCUIT_OPEN_data_primary: "the data_primary breaker is open",
    ReasonCode.CIRCUIT_OPEN_data_fallback: "the data_fallback breaker is open",
    ReasonCode.CIRCUIT_OPEN_quotes_primary: "the quotes_primary breaker is open",
    ReasonCode.CIRCUIT_OPEN_calendar_market_clock: "the calendar_market_clock breaker is open",
    ReasonCode.CIRCUIT_OPEN_notify_webhook: "the webhook notifier's breaker is open: nothing is "
    "sent to it (trading is not affected)",
    ReasonCode.CIRCUIT_OPEN_notify_telegram: "the Telegram notifier's breaker is open: nothing is "
    "sent to it (trading is not affected)",
    ReasonCode.CIRCUIT_OPEN_notify_discord: "the Discord notifier's breaker is open: nothing is "
    "sent to it (trading is not affected)",
    ReasonCode.ORDER_SIZE_BLOCK: "order value or quantity above pretrade.max_order_usd/qty",
    ReasonCode.PRICE_COLLAR_BLOCK: "order price too far from the last price, or the last "
    "price too far from its recent range",
    ReasonCode.DUPLICATE_ORDER_BLOCK: "same client id, or same symbol/side/qty/bar time, "
    "already sent",
    ReasonCode.RATE_THROTTLE_BLOCK: "orders or cancels per minute above the configured rate",
    ReasonCode.CANCEL_LOOP_BLOCK: "too many cancels without a fill: symbol blocked for N bars",
    ReasonCode.EXECUTION_THROTTLE_DISABLE: "too many executions in the window: symbol "
    "disabled until `quantbot resume --symbol`",
    ReasonCode.PRICE_COLLAR_DISABLE: "more than pretrade.max_collar_blocks collar blocks within "
    "collar_block_window_s: symbol disabled until `quantbot resume --symbol`",
    ReasonCode.SYMBOL_DISABLED_BLOCK: "the symbol was disabled and no person re-enabled it",
    ReasonCode.SYMBOL_NOT_ALLOWED_BLOCK: "the symbol is not in pretrade.allowed_symbols",
    ReasonCode.STALE_DATA_BLOCK: "the symbol's last bar is older than pretrade.max_data_age_s",
    ReasonCode.QUOTE_CROSSED_BLOCK: "new risk refused: the venue's quote is crossed (bid > ask)",
    ReasonCode.QUOTE_LOCKED_BLOCK: "new risk refused: the venue's quote is locked (bid = ask)",
    ReasonCode.QUOTE_STALE_BLOCK: "new risk refused: the venue's quote is older than "
    "pretrade.max_quote_age_s",
    ReasonCode.QUOTE_UNAVAILABLE_BLOCK: "new risk refused: the venue's quote could not be read "
    "(cause: the classified error)",
    ReasonCode.MARKET_CLOSED_BLOCK: "the venue's market is closed",
    ReasonCode.CANARY_MODE_ACTIVE: "canary mode: only pretrade.canary_symbols trade",
    ReasonCode.ORDER_UNKNOWN_PENDING: "the submit's outcome is unknown; it counts against "
    "limits until looked up by client id",
    ReasonCode.ORDER_LOST: "not found at the venue within the grace period; it keeps counting "
    "against limits, is looked up and cancel-attempted until the venue proves it, never "
    "re-sent",
    ReasonCode.JOURNAL_WRITE_FAILED: "a line of state/journal.jsonl could not be written or "
    "synced (disk full, I/O error; file and error in context): trading halted until `resume`; "
    "an INTENT that is not durable is not sent, other events still reach the in-memory ledger "
    "and what was not written is recovered from the venue at the next start",
    ReasonCode.DISK_WRITE_FAILED: "another file the daemon must write (daily risk ledger, "
    "control state, status, decision or TCA records) could not be written (file and error in "
    "context): trading halted; a RESERVE that is not on disk sends no order",
    ReasonCode.CANCEL_ALL_INCOMPLETE: "a cancel-all left orders open, or could not confirm "
    "none are (still_open: their client ids): trading halted until `resume`, each is reported",
    ReasonCode.CANCEL_ALL_TRIGGERED: "every working order was cancelled (kill, mismatch, "
    "escalation or a person)",
    ReasonCode.STARTUP_CLEANUP: "at start, a venue order no journal explains was cancelled",
    ReasonCode.SESSION_CLOSE_CLEANUP: "at session close, DAY orders cancelled and reconciled",
    ReasonCode.REDUCE_ONLY_ACTIVE: "after a reconciliation mismatch only risk-reducing orders go",
    ReasonCode.GO_LIVE_NOT_ENABLED: "live mode refused: go-live is not enabled",
    ReasonCode.GO_LIVE_DISABLED: "a running live daemon saw go-live disabled (`quantbot go-live "
    "disable`, or go_live.json unreadable): no new risk, exits still go, until it is enabled "
    "again for this daemon's config",
    ReasonCode.ALERT_BREAKER_OPEN: "alert: a critical dependency's breaker opened",
    ReasonCode.ALERT_REPEATED_REJECTS: "alert: the venue rejected many orders in a short window",
    ReasonCode.ALERT_STALE_DATA: "alert: no fresh market data for alerts.stale_data_s",
    ReasonCode.ALERT_RECONCILE_MISMATCH: "alert: journal and venue disagree",
    ReasonCode.ALERT_HALT_TRADING: "alert: trading halted",
    ReasonCode.ALERT_GO_LIVE_DISABLED: "alert: a running live daemon saw go-live disabled: no "
    "new risk (GO_LIVE_DISABLED)",
    ReasonCode.ALERT_ORDER_UNKNOWN: "alert: a submit's outcome is unknown (it may be working "
    "at the venue); it counts against every limit until the venue proves it either way",
    ReasonCode.ALERT_ORDER_LOST: "alert: an UNKNOWN order is still not found after "
    "oms.unknown_grace_s; it keeps counting and is looked up and cancel-attempted",
    ReasonCode.ALERT_ORDER_RESURRECTED: "alert: an order the ledger had settled as never held "
    "(NOT_SENT or REJECTED) showed up at the venue; adopted",
    ReasonCode.ALERT_EXTERNAL_FILL: "alert: a fill for an order quantbot never sent; booked as "
    "external inventory",
    ReasonCode.ALERT_EXTERNAL_INVENTORY: "alert: venue positions or orders no journal explains "
    "were adopted as external at start-up",
    ReasonCode.ALERT_LOOP_STALLED: "alert, written by the watchdog thread while the loop is "
    "still blocked: it has not run for lag_s (trading halts once it runs again)",
    ReasonCode.ALERT_CLOCK_JUMP: "alert: the wall clock moved jump_s more (or less) than the "
    "monotonic clock; pacing is monotonic, timestamps follow the wall clock",
    ReasonCode.ALERT_NOTIFIER_DOWN: "alert: a notification channel (channel) failed until its "
    "breaker opened (error); its messages wait or are dropped, trading goes on",
    ReasonCode.ALERT_PROVIDER_DISABLED: "alert: a provider was disabled until `until` "
    "(its PROVIDER_DISABLED record says what that blocks)",
    ReasonCode.ALERT_PROVIDER_ENABLED: "alert: a disabled provider was re-enabled",
    ReasonCode.SIZER_FAILED_FALLBACK: "the AI sizer raised; the base size was used and trading "
    "went on (fail-graceful)",
    ReasonCode.SIZER_LEVERAGE_VENUE_CAP: "the sizer's leverage was cut to what the venue and "
    "instrument allow (spot: 1x)",
    ReasonCode.INTENT_REJECTED: "a TradeIntent line was malformed: not JSON, a wrong type, a "
    "value out of range or past a sanity bound (MAX_USD, MAX_LEVERAGE), or a qty (sizes are USD); "
    "the field is named and the line kept in the record",
    ReasonCode.INTENT_LEVERAGE_CLAMP: "an intent's leverage was outside the configured bounds and "
    "was clamped",
    ReasonCode.INTENT_UNKNOWN_SYMBOL: "an intent named a symbol this run does not trade; rejected",
    ReasonCode.INTENT_INBOX_UNREADABLE: "the inbox directory or a file in it could not be read; "
    "trading goes on without new intents and the next poll tries again",
    ReasonCode.INTENT_OFFSETS_RESET: "the inbox's offsets file was unreadable: every file was "
    "skipped to its end (old intents are not fed again); the files are named",
    ReasonCode.INTENT_DUPLICATE: "an intent's intent_id was taken before (this run or an earlier "
    "one, any file): recorded with where it was first taken, not applied again",
    ReasonCode.INTENT_IDS_DAMAGED: "lines of state/intent_ids-<mode>.jsonl could not be read and "
    "were skipped: their ids are forgotten (a resent copy would be taken as new); lines named",
    ReasonCode.VOL_TARGET_SCALE: "net exposure scaled toward the target annual volatility (factor "
    "in context)",
    ReasonCode.RISK_CAP_PORTFOLIO: "a per-symbol or per-cluster concentration cap cut the target",
    ReasonCode.CORR_CLUSTER_CAP: "a group of highly correlated symbols hit its gross exposure cap",
    ReasonCode.PORTFOLIO_VOL_SCALE: "the target was scaled so the portfolio's realised volatility "
    "(covariance of its symbols) meets the target (factor, realised and target vol in context)",
    ReasonCode.CONCENTRATION_GROSS_CAP: "the symbol's share of the gross exposure would pass "
    "max_symbol_gross_share: the target was cut (to 0: blocked)",
    ReasonCode.BLOCK_LOW_CONFIDENCE: "entry refused: confidence below the policy's floor",
    ReasonCode.BLOCK_COOLDOWN: "entry refused: the global or this symbol's cooldown has not passed",
    ReasonCode.BLOCK_MAX_POSITIONS: "entry refused: the maximum number of open positions is "
    "reached",
    ReasonCode.BLOCK_MAX_EXPOSURE: "entry refused: total exposure would pass the policy's maximum",
    ReasonCode.BLOCK_SCALE_IN: "scale-in refused: other direction, confidence not improved "
    "enough, or too many scale-ins",
    ReasonCode.BLOCK_SYMBOL_EXPOSURE: "entry refused: this symbol's exposure would pass its "
    "maximum",
    ReasonCode.BLOCK_SYMBOL_POSITIONS: "entry refused: this symbol already has its maximum number "
    "of entries",
    ReasonCode.BLOCK_REGIME_RULE: "entry refused: the volatility regime already holds its maximum "
    "number of positions",
    ReasonCode.ALLOW_SCALE_IN: "a scale-in into an existing position was allowed (allocation in "
    "context)",
    ReasonCode.ALLOW_NEW_ENTRY: "a new entry was allowed (allocation in context)",
    ReasonCode.POLICY_ALLOCATION_CLAMP: "the entry was cut to the policy's capital allocation",
    ReasonCode.ENTRY_BLOCKED_CLOSE_ONLY: "a reversal's new side was refused by an entry rule; "
    "only the close was ordered",
    ReasonCode.GOVERNOR_APPROVED: "the governor approved the entry unchanged",
    ReasonCode.GOVERNOR_SIZE_CLAMP: "size was cut to the governor's max_position_usd",
    ReasonCode.GOVERNOR_LEVERAGE_CLAMP: "leverage was moved into the governor's [min, max]",
    ReasonCode.GOVERNOR_NOTIONAL_CLAMP: "size x leverage was cut to max_notional_usd",
    ReasonCode.GOVERNOR_RISK_BUDGET_CLAMP: "size was cut so the loss at the stop fits the risk "
    "budget",
    ReasonCode.GOVERNOR_SIZE_BELOW_MIN: "rejected: the size is below min_order_usd (or was "
    "clamped below it)",
    ReasonCode.GOVERNOR_NOTIONAL_REJECT: "rejected: no size within bounds keeps the notional "
    "under max_notional_usd",
    ReasonCode.GOVERNOR_LOW_CONFIDENCE: "rejected: confidence below the governor's floor",
    ReasonCode.GOVERNOR_ERROR: "the governor itself failed; the entry was rejected (fail_open = "
    "false)",
    ReasonCode.GOVERNOR_ERROR_FAIL_OPEN: "the governor itself failed and fail_open = true let the "
    "entry through",
    ReasonCode.GOVERNOR_SYMBOL_LEVERAGE_CLAMP: "leverage was cut to the symbol's own cap "
    "(governor_caps.max_leverage_by_symbol)",
    ReasonCode.GOVERNOR_DYNAMIC_NOTIONAL_CLAMP: "size x leverage was cut to the dynamic notional "
    "limit (equity and volatility scaled, bounded)",
    ReasonCode.DAILY_LOSS_LIMIT: "new risk refused: today's realised loss reached the GLOBAL or "
    "sleeve limit",
    ReasonCode.DAILY_EXPOSURE_LIMIT: "new risk refused: today's opened exposure would pass the "
    "limit",
    ReasonCode.DAILY_OPEN_RISK_LIMIT: "new risk refused: open (reserved and held) risk would pass "
    "the limit",
    ReasonCode.DAILY_POLICY_DISABLED: "new risk refused: the GLOBAL or sleeve daily risk policy "
    "is disabled (`enabled = false`); reducing orders still go",
    ReasonCode.DAILY_RISK_NOTIFY: 'a daily risk policy with `action = "notify"` would have '
    "refused this entry (`would_block`: the limit's code, with scope, current, adding and limit); "
    "the order went",
    ReasonCode.DRAWDOWN_BREAKER_PORTFOLIO: "new risk refused: equity fell "
    "max_portfolio_drawdown_pct below its high-water mark; reducing orders still go",
    ReasonCode.DRAWDOWN_BREAKER_SLEEVE: "the sleeve's entries refused: its realised PnL fell below "
    "its high-water mark by max_sleeve_drawdown_pct of equity",
    ReasonCode.SLEEVE_QUARANTINED: "the sleeve is quarantined (a [quarantine] trigger fired; "
    "its metrics at the time in the QUARANTINE record): its entries are refused (block) or its "
    "targets count as 0 (zero_targets) until released",
    ReasonCode.SYMBOL_QUARANTINED: "the symbol is quarantined (a [quarantine] trigger fired on "
    "its outcomes): entries there are refused (block) or its targets are 0 (zero_targets)",
    ReasonCode.QUARANTINE_RELEASED: "a quarantine ended: its time was up, or `quantbot resume "
    "--sleeve` released it early",
    ReasonCode.TRIPWIRE_THROTTLE: "a [tripwire] THROTTLE policy fired for the sleeve (its metric "
    "fell more than max_drop_fraction below its baseline; the TRIPWIRE record has both): its "
    "new risk is refused until `quantbot resume` or `quantbot tripwire reset`; exits still go",
    ReasonCode.TRIPWIRE_KILL_SWITCH: "a [tripwire] KILL_SWITCH policy fired: the kill switch "
    "engaged with the policy, sleeve, baseline and current value as its reason",
    ReasonCode.TRIPWIRE_CLEARED: "a tripwire trigger was cleared by `quantbot resume` or "
    "`quantbot tripwire reset --reason`; the reason is kept in state/tripwire.json",
    ReasonCode.COST_GATE_EDGE_BELOW_COST: "entry refused: its expected edge (confidence x edge "
    "scale) does not exceed the modelled cost plus entry_cost_buffer_bps",
    ReasonCode.TURNOVER_CAP_SYMBOL: "an entry was scaled down to what is left of today's "
    "turnover cap for its symbol, or refused when less than the minimum order is left",
    ReasonCode.TURNOVER_CAP_DAILY: "an entry was scaled down to what is left of today's total "
    "turnover cap, or refused when less than the minimum order is left",
    ReasonCode.LEARNING_COST_BUFFER_RAISED: "post-trade learning raised a symbol's cost-gate "
    "buffer (its mean implementation shortfall stayed above learning.is_high_bps); bounded "
    "per day",
    ReasonCode.LEARNING_DEADBAND_WIDENED: "post-trade learning widened a symbol's netting "
    "deadband (its flip rate reached learning.flip_rate_high); bounded per day",
    ReasonCode.LEARNING_TURNOVER_TIGHTENED: "post-trade learning tightened a symbol's turnover "
    "cap (its daily turnover reached learning.turnover_high_equity_x); bounded per day",
    ReasonCode.LEARNING_OVERRIDE_EXPIRED: "a learned override no evidence renewed for "
    "learning.max_override_age_days was dropped: the configured value applies again",
    ReasonCode.LEARNING_ROLLBACK: "`quantbot overrides rollback` restored an earlier version "
    "of the learned overrides; the daemon uses it from then on",
    ReasonCode.CHARTER_NO_POLICY: "a model's recommendation whose domain has no [charter] "
    "policy: not used (recorded beside what was used)",
    ReasonCode.CHARTER_PROD_DISABLED: "the domain's policy says prod_use_enabled = false: its "
    "recommendations are only scored, never used",
    ReasonCode.CHARTER_TRIALS_SHORT: "the domain's scorecard has fewer trials in its window "
    "than min_sandbox_trials: the recommendation was not used",
    ReasonCode.CHARTER_SUCCESS_LOW: "the domain's trial success rate in its window is below "
    "min_sandbox_success_rate: the recommendation was not used",
    ReasonCode.CHARTER_NOT_PROMOTED: "no person promoted the domain (`quantbot charter "
    "promote`), or one demoted it: the recommendation was not used",
    ReasonCode.CHARTER_CONFIDENCE_LOW: "the recommendation's confidence is below the domain's "
    "min_confidence_prod: not used",
    ReasonCode.CHARTER_PROMOTED: "a person promoted a charter domain (who, when, note): its "
    "recommendations are used while its scorecard meets the policy",
    ReasonCode.CHARTER_DEMOTED: "a person demoted a charter domain (who, when, note): its "
    "recommendations are only scored again",
    ReasonCode.ALLOCATION_UPDATED: "at a trading-day roll the sleeves' netting weights moved "
    "toward what their post-cost round trips say (previous and new weights and the metrics in "
    "the ALLOCATION record), within floors, ceilings and max_daily_change",
    ReasonCode.ALLOCATION_RESET: "the sleeves' netting weights started over from the profile's "
    "base weights: they changed since state/allocation.json was written (profile, sleeves)",
    ReasonCode.ALLOCATION_TCA_MISSING: "tca.require_tca_for_allocation: at a trading-day roll "
    "these sleeves had round trips but no TCA sample (no filled order measured) and kept their "
    "static weights",
    ReasonCode.TCA_STALE_BLOCK: "tca.block_trading_if_tca_stale: an entry was refused because "
    "the newest filled order's TCA is older than tca.stale_after_s (age in context); exits "
    "still go",
    ReasonCode.LEARNING_TCA_SAMPLES_LOW: "post-trade learning adapted nothing at this roll: its "
    "window holds fewer TCA samples than tca.min_tca_samples_for_adapt",
    ReasonCode.ORDER_BUILD_OFF_TICK: "an order's price is not a whole number of ticks; it was "
    "never built",
    ReasonCode.ORDER_BUILD_BAD_QTY: "an order's quantity is zero, negative or not whole lots; "
    "it was never built",
    ReasonCode.ORDER_BUILD_MIN_NOTIONAL: "an order's value is below the instrument's minimum; "
    "it was never built",
    ReasonCode.ORDER_BUILD_BAD_DISTANCE: "a stop, take-profit or trailing distance is zero or "
    "negative; never built",
    ReasonCode.ORDER_BUILD_WRONG_SIDE: "a take-profit (or limit exit) lies on the losing side "
    "of the reference price; never built",
    ReasonCode.ORDER_BUILD_STOP_THROUGH_MARKET: "a stop lies on the wrong side of the market "
    "(it would trigger at once); never built",
    ReasonCode.ORDER_BUILD_MARKET_NOT_ALLOWED: "a MARKET order where the execution policy "
    "allows only limits; never built",
    ReasonCode.ORDER_TYPE_UNSUPPORTED: "the venue cannot take this order type natively and "
    "emulation is off (start-up refuses)",
    ReasonCode.EXIT_BRACKET_ACTIVE: "a new entry on a symbol whose position already carries "
    "working exits was refused",
    ReasonCode.EXIT_STOP_LOCK: "re-entry refused: the symbol (and side) was stopped out less "
    "than `stop_lock_bars` bars ago",
    ReasonCode.EXIT_TRIGGERED: "an emulated exit (stop, take-profit, trailing stop, max hold) "
    "crossed its trigger; the exit order goes out",
    ReasonCode.EXIT_LEG_REJECTED: "the venue refused a protective leg; the position is watched "
    "by the emulated trigger, or halts",
    ReasonCode.EXIT_LEG_ORPHAN_CANCELED: "a protective leg whose position is gone was cancelled",
    ReasonCode.EXIT_LEG_MISSING: "a held position had no working protective leg; it was "
    "re-placed (or trading halted, per config)",
    ReasonCode.ENTRY_LIMIT_TIMEOUT: "a LIMIT entry did not fill within "
    "`limit_entry_timeout_bars`; it was cancelled",
}


def markdown_table() -> str:
    rows = ["| code | meaning |", "| --- | --- |"]
    rows += [f"| `{code.value}` | {MEANING[code]} |" for code in ReasonCode]
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
