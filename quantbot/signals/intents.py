"""The TradeIntent schema: one JSON object per line, proposed by an outside model.

Versions: ``"1.0"`` knows ``symbol, side, confidence, size_usd, leverage, intent_id, ts``;
``"1.1"`` adds the AI hints ``ai_size_usd, ai_leverage, ai_harvest_policy, risk_budget_usd``
(``ai_harvest_policy``: a preset name, or the seed's table ``{mode, stop_loss, take_profit,
trailing, max_hold}``, ``quantbot.domain.harvest``).
Both take an optional ``source``: the name of the model that sent it (letters, digits and
``._-``, at most 64 characters). An intent with a source is a model's recommendation and is
governed by the confidence charter (domain ``intent:<source>``); one without is a person's.
A later 1.x is read as 1.1 (its new fields are kept in ``extra``); another major is refused,
because a producer that bumped the major said the meaning of the old fields changed.

Unknown fields are tolerated and kept in ``extra`` (forward compatibility), but a known field
with a wrong type or value rejects the whole line with ``IntentError`` naming the field: a
half-understood intent must not trade. Numbers must be finite and inside sanity bounds
(``MAX_USD`` for the USD fields, ``MAX_LEVERAGE`` for the leverages): a value above a bound is
not a size anyone meant, and would overflow to inf once multiplied downstream. Values inside
the bounds but above a configured limit are accepted and clamped later (leverage by
``normalized``, size by the risk governor).

``qty`` (and ``quantity``) is refused in every version: the inbox sizes in USD, and a quantity
in base units that was kept in ``extra`` and ignored would trade a size the producer never
asked for. ``intent_id``, when given, is how the inbox recognises an intent sent twice.
"""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

import attrs
import orjson

from quantbot.config.charter import SOURCE_RE
from quantbot.domain.errors import DataError
from quantbot.domain.harvest import HarvestShapeError, HarvestSpec, parse_harvest
from quantbot.domain.reasons import Reason, ReasonCode, reason

HARVEST_POLICIES = ("SCALPER", "SWING", "TREND_RUNNER")
SIDES = ("buy", "sell", "flat")
LINE = "<line>"  # the "field" named when the line as a whole is wrong

_DIRECTION = {"buy": 1, "sell": -1, "flat": 0}
_VERSION_RE = re.compile(r"(\d+)(?:\.(\d+))?")
_V10_FIELDS = frozenset(
    {"symbol", "side", "confidence", "size_usd", "leverage", "intent_id", "ts", "source"}
)
_V11_FIELDS = _V10_FIELDS | {"ai_size_usd", "ai_leverage", "ai_harvest_policy", "risk_budget_usd"}
_REQUIRED = ("symbol", "side", "confidence")
_NUMBERS = frozenset(
    {"confidence", "size_usd", "leverage", "ai_size_usd", "ai_leverage", "risk_budget_usd"}
)
_STRINGS = frozenset({"symbol", "side", "ai_harvest_policy", "intent_id", "ts", "source"})

# Sanity bounds: a value above one is refused, not clamped (see the module docstring).
MAX_USD = 1e12  # size_usd, ai_size_usd, risk_budget_usd
MAX_LEVERAGE = 1000.0  # leverage, ai_leverage
MAX_INTENT_ID_CHARS = 200  # every id is kept on disk (state/intent_ids-<mode>.jsonl)
# Fields a producer may send that this reader must not ignore: refused with what to send.
_REFUSED = {
    name: "not accepted: the inbox sizes intents in USD; send size_usd (v1.0) or ai_size_usd "
    "(v1.1) instead of a quantity"
    for name in ("qty", "quantity")
}
_MAX_DOUBLE = int(sys.float_info.max)


class IntentError(DataError):
    """A TradeIntent line that cannot be accepted; ``field`` names what is wrong."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


# -- field validators: they run on every construction, so no TradeIntent can hold NaN -------


def _finite(field: str, value: float) -> None:
    if not math.isfinite(value):
        raise IntentError(field, f"must be finite, got {value!r}")


def _check_confidence(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    _finite(attribute.name, value)
    if not 0.0 <= value <= 1.0:
        raise IntentError(attribute.name, f"must be in [0, 1], got {value!r}")


def _check_usd(_: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None:
        _finite(attribute.name, value)
        if value <= 0.0:
            raise IntentError(attribute.name, f"must be > 0, got {value!r}")
        if value > MAX_USD:
            raise IntentError(attribute.name, f"must be <= {MAX_USD:g} (MAX_USD), got {value!r}")


def _check_leverage(_: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None:
        _finite(attribute.name, value)
        if value < 1.0:
            raise IntentError(attribute.name, f"must be >= 1, got {value!r}")
        if value > MAX_LEVERAGE:
            problem = f"must be <= {MAX_LEVERAGE:g} (MAX_LEVERAGE), got {value!r}"
            raise IntentError(attribute.name, problem)


def _check_intent_id(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    if not value.strip():
        raise IntentError(attribute.name, "must be a non-empty string when given")
    if len(value) > MAX_INTENT_ID_CHARS:
        problem = f"must be at most {MAX_INTENT_ID_CHARS} characters, got {len(value)}"
        raise IntentError(attribute.name, problem)


def _check_symbol(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value.strip():
        raise IntentError(attribute.name, "must be a non-empty string")


def _check_side(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in SIDES:
        raise IntentError(attribute.name, f"must be one of {', '.join(SIDES)}, got {value!r}")


def _check_source(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and SOURCE_RE.fullmatch(value) is None:
        problem = "must be 1-64 letters, digits, '.', '_' or '-' (starting with a letter or digit)"
        raise IntentError(attribute.name, f"{problem}, got {value!r}")


def _check_policy(_: Any, attribute: attrs.Attribute[Any], value: str | HarvestSpec | None) -> None:
    if value is not None and not isinstance(value, HarvestSpec) and value not in HARVEST_POLICIES:
        allowed = ", ".join(HARVEST_POLICIES)
        raise IntentError(attribute.name, f"must be one of {allowed}, got {value!r}")


@attrs.frozen(slots=True)
class TradeIntent:
    """One accepted intent. ``schema_version`` is the version the line was read as.

    Sizes are USD in (0, MAX_USD], leverage a multiple in [1, MAX_LEVERAGE]; every number is
    finite. ``source`` is None (a person's intent) or the model's name. ``intent_id`` is None
    or a non-empty id of at most MAX_INTENT_ID_CHARS characters.
    ``ts`` is the producer's timestamp, kept as given and not interpreted. ``extra`` holds the
    fields this reader does not know (and, when a later 1.x was read as 1.1, the declared
    ``schema_version``).
    """

    schema_version: str
    symbol: str = attrs.field(validator=_check_symbol)
    side: str = attrs.field(validator=_check_side)
    confidence: float = attrs.field(validator=_check_confidence)
    size_usd: float | None = attrs.field(default=None, validator=_check_usd)
    leverage: float | None = attrs.field(default=None, validator=_check_leverage)
    ai_size_usd: float | None = attrs.field(default=None, validator=_check_usd)
    ai_leverage: float | None = attrs.field(default=None, validator=_check_leverage)
    # A preset name, or the seed's table read as a HarvestSpec (quantbot.domain.harvest).
    ai_harvest_policy: str | HarvestSpec | None = attrs.field(default=None, validator=_check_policy)
    risk_budget_usd: float | None = attrs.field(default=None, validator=_check_usd)
    intent_id: str | None = attrs.field(default=None, validator=_check_intent_id)
    ts: str | None = None
    source: str | None = attrs.field(default=None, validator=_check_source)
    extra: dict[str, Any] = attrs.field(factory=dict)

    @property
    def direction(self) -> int:
        """+1 for buy, -1 for sell, 0 for flat."""
        return _DIRECTION[self.side]

    def normalized(
        self, min_leverage: float, max_leverage: float
    ) -> tuple[TradeIntent, list[Reason]]:
        """This intent with ``leverage`` and ``ai_leverage`` clamped into the bounds.

        Each clamp yields an ``INTENT_LEVERAGE_CLAMP`` reason with field, before, after, min, max.
        """
        if not (math.isfinite(min_leverage) and math.isfinite(max_leverage)):
            raise ValueError(f"leverage bounds must be finite: {min_leverage}, {max_leverage}")
        if not 1.0 <= min_leverage <= max_leverage:
            raise ValueError(
                f"need 1 <= min_leverage <= max_leverage: {min_leverage}, {max_leverage}"
            )
        changes: dict[str, float] = {}
        reasons: list[Reason] = []
        for field in ("leverage", "ai_leverage"):
            before = getattr(self, field)
            if before is None:
                continue
            after = min(max(before, min_leverage), max_leverage)
            if after != before:
                changes[field] = after
                reasons.append(
                    reason(
                        ReasonCode.INTENT_LEVERAGE_CLAMP,
                        field=field,
                        before=before,
                        after=after,
                        min=min_leverage,
                        max=max_leverage,
                    )
                )
        return (attrs.evolve(self, **changes) if changes else self), reasons

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict of every field, for the decision record."""
        record = attrs.asdict(self, recurse=False)
        if self.source is None:
            del record["source"]  # a person's intent: its record is what it always was
        record["extra"] = dict(self.extra)
        if isinstance(self.ai_harvest_policy, HarvestSpec):
            record["ai_harvest_policy"] = self.ai_harvest_policy.plain()
        return record


# -- parsing --------------------------------------------------------------------------------


def parse_line(text: str) -> TradeIntent:
    """Decode one JSON line and parse it; bad JSON is an ``IntentError`` on ``"<line>"``,
    except a number JSON cannot hold (NaN, Infinity, 1e999), which names its field."""
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        _name_unrepresentable_number(text)
        raise IntentError(LINE, f"invalid JSON: {str(e)[:80]}") from e
    return parse_intent(obj)


def _name_unrepresentable_number(text: str) -> None:
    """Raise ``IntentError`` naming the top-level field that holds NaN, +-Infinity or a number
    too large for a double, if that is why the line is not JSON. Only sharpens the error: a
    line orjson refused is never accepted (Python's ``json.dumps`` writes ``NaN`` by default,
    so a producer meets this more often than one would think)."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):  # not JSON to Python either: orjson's message stands
        return
    if not isinstance(obj, dict):
        return
    for key, value in obj.items():
        bad = _first_unrepresentable(value)
        if bad is not None:
            raise IntentError(str(key), f"must be a finite number, got {bad} (not valid JSON)")


def _first_unrepresentable(value: Any) -> str | None:
    """The first number in ``value`` (searched without recursion) orjson would refuse."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return repr(item)
        if isinstance(item, int) and not isinstance(item, bool) and abs(item) > _MAX_DOUBLE:
            return "a number out of range"
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def parse_intent(obj: Any) -> TradeIntent:
    """Validate a decoded JSON value as a TradeIntent; raises only ``IntentError``."""
    if not isinstance(obj, dict):
        raise IntentError(LINE, f"not a JSON object (got {type(obj).__name__})")
    fields = dict(obj)
    version_key = "schema_version" if "schema_version" in fields else "version"
    declared = fields.pop(version_key, None)
    version = _read_version(version_key, declared)
    known = _V11_FIELDS if version == "1.1" else _V10_FIELDS
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in fields.items():
        if key in _REFUSED:
            if value is not None:
                raise IntentError(key, _REFUSED[key])
        elif key in known:
            values[key] = _typed(key, value)
        else:
            extra[key] = value
    if declared is not None and declared != version:
        extra[version_key] = declared
    for key in _REQUIRED:
        if values.get(key) is None:
            raise IntentError(key, "missing required field")
    values["side"] = values["side"].lower()
    if isinstance(values.get("ai_harvest_policy"), str):
        values["ai_harvest_policy"] = values["ai_harvest_policy"].upper()
    return TradeIntent(schema_version=version, extra=extra, **values)


def _read_version(key: str, declared: Any) -> str:
    """The version to read the line as: "1.0" or "1.1"; errors name ``key`` as sent."""
    if declared is None:
        return "1.0"
    if not isinstance(declared, str):
        raise IntentError(key, f"must be a string like '1.1', got {declared!r}")
    match = _VERSION_RE.fullmatch(declared.strip())
    if match is None:
        raise IntentError(key, f"must look like '1.1', got {declared!r}")
    if int(match.group(1)) != 1:
        raise IntentError(key, f"major version {match.group(1)} is not supported")
    return "1.0" if int(match.group(2) or 0) == 0 else "1.1"


def _harvest_table(value: dict[str, Any]) -> HarvestSpec:
    """The seed's ``{mode, stop_loss, take_profit, trailing, max_hold}``; a missing ``mode``
    leaves the preset to the sizer (by confidence), its other keys replace the preset's."""
    try:
        return parse_harvest(value, allow_auto=True)
    except HarvestShapeError as e:
        raise IntentError(f"ai_harvest_policy.{e.key}" if e.key else "ai_harvest_policy",
                          e.problem) from e  # fmt: skip


def _typed(key: str, value: Any) -> Any:
    """``value`` checked for the type of ``key`` (null means absent); ranges are checked later."""
    if value is None:
        return None
    if key in _NUMBERS:
        # bool is an int subclass, and a quoted number may be a producer's bug: both refused.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise IntentError(key, f"must be a number, got {type(value).__name__}")
        try:
            return float(value)
        except OverflowError as e:  # an int too large for a float
            raise IntentError(key, "must be finite, got a number out of range") from e
    if key == "ai_harvest_policy" and isinstance(value, dict):
        return _harvest_table(value)
    if key in _STRINGS and not isinstance(value, str):
        raise IntentError(key, f"must be a string, got {type(value).__name__}")
    return value
