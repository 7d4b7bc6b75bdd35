"""The daily execution report, written at each day roll without being asked.

The day is the calendar day of ``tca.rollup_time_zone`` (the seeds roll up in
America/New_York; zoneinfo, so daylight-saving time moves the UTC hour of the roll). At the
first record (decision or TCA) the run writes after local midnight, the day that ended is
reported to ``runtime/reports/execution-<day>.json`` and ``.csv``: the figures of
``quantbot report tca`` (``analytics.execution_report.assemble``: per symbol, sleeve,
profile, order type and venue; blocks per gate; the three answers) over the orders decided
on that local day, with the day's time zone and its UTC bounds.

It is built from what the run wrote during the day, kept as it was written (each order's
newest TCA line, the decision records' totals), never read back from disk. A TCA line that
comes after the roll for an order decided before it (a late fill) is in ``tca.jsonl``, where
``quantbot report tca`` finds it; this report keeps the picture at the roll. A run that
stops before the roll writes no report for its last day. Runs only (paper, live): a replay
reports through its summary and ``quantbot report tca --runtime <replay>``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from loguru import logger

from quantbot.analytics.execution_report import DecisionTotals, assemble, write_report
from quantbot.clock import NS_PER_S, Clock, iso_utc

PREFIX = "execution"


class DailyReport:
    """See the module docstring. ``on_tca`` and ``on_decision_record`` are listeners."""

    def __init__(
        self,
        out_dir: Path,
        clock: Clock,
        time_zone: str,
        *,
        tca_file: Path | None = None,
        decisions_file: Path | None = None,
    ) -> None:
        self.out_dir = out_dir
        self._clock = clock
        self._zone_name = time_zone
        self._tz = ZoneInfo(time_zone)
        self._files = {
            "tca_file": None if tca_file is None else str(tca_file),
            "decisions_file": None if decisions_file is None else str(decisions_file),
        }
        self._day: dt.date | None = None
        self._start_ns = 0
        self._next_ns = -1  # the first record sets the day
        self._rows: dict[str, dict[str, Any]] = {}  # client order id -> newest TCA line
        self._totals = DecisionTotals()
        self.written: list[Path] = []  # the JSON reports written, oldest first

    # -- listeners --------------------------------------------------------------------------

    def on_tca(self, record: dict[str, Any]) -> None:
        self._roll_if_due()
        self._rows[record["client_order_id"]] = record

    def on_decision_record(self, record: dict[str, Any]) -> None:
        self._roll_if_due()
        self._totals.add(record)

    # -- the roll ---------------------------------------------------------------------------

    def _roll_if_due(self) -> None:
        now = self._clock.now_ns()
        if now < self._next_ns:
            return
        if self._day is not None:
            self._write(self._day)
        self._day, self._start_ns, self._next_ns = self._bounds(now)

    def _bounds(self, now_ns: int) -> tuple[dt.date, int, int]:
        """The local day at ``now_ns`` and its start and end, in UTC ns."""
        local = dt.datetime.fromtimestamp(now_ns / NS_PER_S, self._tz)
        day = local.date()
        return day, self._midnight_ns(day), self._midnight_ns(day + dt.timedelta(days=1))

    def _midnight_ns(self, day: dt.date) -> int:
        midnight = dt.datetime.combine(day, dt.time(0), tzinfo=self._tz)
        return int(midnight.timestamp()) * NS_PER_S

    def _local_day(self, iso: str) -> dt.date:
        return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(self._tz).date()

    def _write(self, day: dt.date) -> None:
        rows, kept = [], {}
        for cid, row in self._rows.items():
            decided = self._local_day(row["decision_ts"])
            if decided == day:
                rows.append(row)
            elif decided > day:
                kept[cid] = row  # not this day's (a clock set back): kept for its own day
        self._rows = kept
        totals, self._totals = self._totals, DecisionTotals()
        report = {
            "date": day.isoformat(),
            "time_zone": self._zone_name,
            "day_start": iso_utc(self._start_ns),
            "day_end": iso_utc(self._next_ns),
            "written": iso_utc(self._clock.now_ns()),
            **self._files,
            "unreadable_lines": {},
            **assemble(rows, totals),
        }
        try:
            json_path, _ = write_report(report, self.out_dir, prefix=PREFIX)
        except OSError as e:  # a report is not worth a halt: trading goes on, the log says
            logger.error("daily execution report for {} not written: {}", day, e)
            return
        self.written.append(json_path)
        logger.info("daily execution report for {} ({}): {}", day, self._zone_name, json_path)
