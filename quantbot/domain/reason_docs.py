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
    ReasonCode.KILL_SWITCH_ACTIVE: "a person engaged the kill switch; it survives restarts",
    ReasonCode.SHUTDOWN_IN_PROGRESS: "the daemon is stopping; no new orders",
    ReasonCode.VENUE_REJECTED: "the venue refused the order (context says why)",
    ReasonCode.VENUE_DUPLICATE_CLIENT_ID: "that client order id was already used; the order "
    "is never sent a second time",
    ReasonCode.VENUE_INSUFFICIENT_FUNDS: "the order would exceed the account's buying power",
    ReasonCode.VENUE_UNKNOWN_SYMBOL: "the venue does not list the symbol",
    ReasonCode.RECONCILE_ADOPTED: "at start-up, an order found at the venue was taken into "
    "the ledger (from the journal, or as external)",
    ReasonCode.RECONCILE_NOT_FOUND: "at start-up, a journaled intent was not at the venue: "
    "settled NOT_SENT, never re-sent",
    ReasonCode.RECONCILE_POSITION_MISMATCH: "ledger and venue disagree on a position; "
    "trading halted until a person checks",
    ReasonCode.LIQUIDITY_THIN_BLOCK: "bar volume below the profile's min_bar_volume; no new risk",
    ReasonCode.LIQUIDITY_PARTICIPATION_CLAMP: "order cut to max_participation of bar volume",
    ReasonCode.SIZER_POSITION_CAP: "target capped at the profile's max_position_usd",
}


def markdown_table() -> str:
    rows = ["| code | meaning |", "| --- | --- |"]
    rows += [f"| `{code.value}` | {MEANING[code]} |" for code in ReasonCode]
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
