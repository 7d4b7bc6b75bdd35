"""iso_utc's integer arithmetic (issue 23: one divmod, the rest operators) gives what
datetime formats, at day, hour and minute boundaries and across years."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from quantbot.clock import NS_PER_S, iso_utc


def reference(ts_ns: int) -> str:
    seconds, rest = divmod(ts_ns, NS_PER_S)
    text = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{rest // 1000:06d}Z"


def test_whole_microseconds_format_as_datetime_does() -> None:
    rng = random.Random(7)
    edges = [0, 59, 60, 3599, 3600, 86_399, 86_400, 951_868_800, 1_763_726_400]
    stamps = [s * NS_PER_S for s in edges] + [
        rng.randrange(0, 4_000_000_000) * NS_PER_S + rng.randrange(0, 1_000_000) * 1000
        for _ in range(5000)
    ]
    assert [iso_utc(t) for t in stamps] == [reference(t) for t in stamps]
