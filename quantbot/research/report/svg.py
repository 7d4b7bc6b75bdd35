"""Hand-written SVG charts for the replay report: time-series lines with labelled date and
value ticks, trade markers on a price line, and horizontal bars. Titles are HTML headings
outside the SVG (never clipped); every point a reader may hover carries a ``<title>`` or
sits in the chart's ``data-hover`` list that the page's script reads."""

from __future__ import annotations

import bisect
import html
import math
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import attrs
import orjson

from quantbot.clock import NS_PER_S

W, H = 1100, 280
LEFT, RIGHT, TOP, BOTTOM = 78, 24, 14, 34
MAX_HOVER = 800  # hover stops per chart: more than the pixels only makes the page bigger
PALETTE = ("#2563eb", "#9ca3af", "#16a34a", "#d97706", "#7c3aed", "#db2777")


def iso(ts_ns: int, *, with_time: bool = False) -> str:
    moment = datetime.fromtimestamp(ts_ns / NS_PER_S, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def intraday(ts: Sequence[int]) -> bool:
    """Whether the times need a clock part to be told apart (bars shorter than a day)."""
    return any(t % (86_400 * NS_PER_S) for t in ts[:500])


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round values (1, 2, 2.5 or 5 times a power of ten) covering lo..hi."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi - lo < 1e-12:
        lo, hi = lo - (abs(lo) or 1.0) * 0.01, hi + (abs(hi) or 1.0) * 0.01
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(lo / step) * step
    ticks, value = [], first
    while value <= hi + step * 0.5:
        ticks.append(round(value, 12))
        value += step
    return ticks


def date_ticks(t0: int, t1: int, count: int = 8) -> list[int]:
    """Round calendar times (year, quarter, month starts, days or hours) inside t0..t1."""
    span_days = (t1 - t0) / (86_400 * NS_PER_S)
    start = datetime.fromtimestamp(t0 / NS_PER_S, tz=UTC)
    end = datetime.fromtimestamp(t1 / NS_PER_S, tz=UTC)
    if span_days > 365 * 2:
        years = max(1, math.ceil((end.year - start.year + 1) / count))
        moments = [datetime(y, 1, 1, tzinfo=UTC) for y in range(start.year, end.year + 1)]
        moments = [m for m in moments if m.year % years == 0]
    elif span_days > 60:
        months = next(m for m in (1, 2, 3, 6, 12) if span_days / 30.4 / m <= count)
        moments = []
        y, mo = start.year, start.month
        while (y, mo) <= (end.year, end.month):
            if (mo - 1) % months == 0:
                moments.append(datetime(y, mo, 1, tzinfo=UTC))
            y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)
    else:  # a whole number of hours that divides a day (or whole days): midnights are ticks
        hour = 3_600 * NS_PER_S
        steps = (1, 2, 3, 4, 6, 12, 24, 48, 7 * 24, 14 * 24)
        step_ns = next((h * hour for h in steps if (t1 - t0) / (h * hour) <= count), 28 * 24 * hour)
        unit = min(step_ns, 24 * hour)  # several days: from the first midnight on
        first = -(-t0 // unit) * unit  # the first whole step at or after t0
        return list(range(first, t1 + 1, step_ns))
    ns = [int(m.timestamp()) * NS_PER_S for m in moments]
    return [t for t in ns if t0 <= t <= t1]


def fmt_value(value: float, unit: str = "") -> str:
    if unit == "%":
        return f"{value:,.2f}%"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.4g}"


@attrs.frozen
class Series:
    name: str
    ts: Sequence[int]  # ascending
    values: Sequence[float]
    colour: str = PALETTE[0]
    width: float = 1.4


@attrs.frozen
class Marker:
    ts_ns: int
    value: float
    kind: str  # "entry" | "exit"
    side: str  # "long" | "short"
    title: str


@attrs.frozen
class Frame:
    """The pixel mapping of one chart."""

    t0: int
    t1: int
    lo: float
    hi: float
    width: int = W
    height: int = H

    def x(self, ts: int) -> float:
        return LEFT + (ts - self.t0) / ((self.t1 - self.t0) or 1) * (self.width - LEFT - RIGHT)

    def y(self, value: float) -> float:
        span = (self.hi - self.lo) or 1.0
        return TOP + (self.hi - value) / span * (self.height - TOP - BOTTOM)


def tick_label(value: float, unit: str) -> str:
    """A tick's value with as many decimals as it has (0.025%, not a rounded 0.03%)."""
    if unit == "%" or abs(value) < 1000:
        text = f"{value:,.6f}".rstrip("0").rstrip(".")
        return ("0" if text in ("-0", "") else text) + ("%" if unit == "%" else "")
    return f"{value:,.0f}"


def _anchor(x: float, width: int) -> str:
    """A date label's anchor: kept inside the chart at either end."""
    return "start" if x < LEFT + 36 else "end" if x > width - RIGHT - 36 else "middle"


def _axes(frame: Frame, unit: str, with_time: bool) -> str:
    parts = []
    for value in nice_ticks(frame.lo, frame.hi):
        if frame.lo - 1e-12 <= value <= frame.hi + 1e-12:
            y = frame.y(value)
            parts.append(
                f'<line class="grid" x1="{LEFT}" x2="{frame.width - RIGHT}" y1="{y:.1f}" '
                f'y2="{y:.1f}"/><text class="tick" data-axis="y" x="{LEFT - 6}" y="{y + 4:.1f}" '
                f'text-anchor="end">{tick_label(value, unit)}</text>'
            )
    base = frame.height - BOTTOM
    parts.append('<g class="xticks">')
    for t in date_ticks(frame.t0, frame.t1):
        x = frame.x(t)
        label = iso(t, with_time=with_time)
        if with_time:  # the day at its midnight, the time alone in between
            label = label[:10] if label.endswith(" 00:00") else label[11:]
        if not with_time and label.endswith("-01-01") and (frame.t1 - frame.t0) > 730 * 86_400e9:
            label = label[:4]
        parts.append(
            f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{base}"/>'
            f'<text class="tick" data-axis="x" x="{x:.1f}" y="{base + 16}" '
            f'text-anchor="{_anchor(x, frame.width)}">{label}</text>'
        )
    parts.append('</g><g class="zticks"></g>')
    parts.append(
        f'<rect class="frame" x="{LEFT}" y="{TOP}" width="{frame.width - LEFT - RIGHT}" '
        f'height="{frame.height - TOP - BOTTOM}"/>'
    )
    return "".join(parts)


def _thin(n: int, limit: int) -> range:
    return range(0, n, max(1, math.ceil(n / limit)))


def _ys(drawn: Sequence[Series], markers: Sequence[Marker]) -> Iterator[float]:
    """The finite values of every series, then the markers': streamed, as a series may hold
    one value a bar."""
    for s in drawn:
        yield from (v for v in s.values if math.isfinite(v))
    yield from (m.value for m in markers)


def _span(drawn: Sequence[Series], markers: Sequence[Marker]) -> tuple[float, float]:
    """``min`` and ``max`` of ``_ys``, in its order (so a tie keeps the same one)."""
    return min(_ys(drawn, markers)), max(_ys(drawn, markers))


def line_chart(
    series: Sequence[Series],
    *,
    kind: str,
    unit: str = "",
    markers: Sequence[Marker] = (),
    attrs_: dict[str, str] | None = None,
    height: int = H,
) -> str:
    """One chart of ``series`` over time, with ``markers`` on it. ``kind`` goes into
    ``data-chart``; ``attrs_`` adds more ``data-`` attributes (e.g. the symbol)."""
    drawn = [s for s in series if len(s.ts) >= 2]
    extra = "".join(f' data-{k}="{html.escape(v)}"' for k, v in (attrs_ or {}).items())
    if not drawn:
        return f'<p class="na" data-chart="{kind}"{extra}>not enough points to draw</p>'
    t0 = min(s.ts[0] for s in drawn)
    t1 = max(s.ts[-1] for s in drawn)
    lo, hi = _span(drawn, markers)
    ticks = nice_ticks(lo, hi) or [lo, hi]
    frame = Frame(t0, t1, min(ticks[0], lo), max(ticks[-1], hi), height=height)
    with_time = intraday(drawn[0].ts)
    lines = []
    for s in drawn:
        step = max(1, len(s.ts) // 3000)
        points = " ".join(
            f"{frame.x(t):.1f},{frame.y(v):.1f}"
            for t, v in zip(s.ts[::step], s.values[::step], strict=True)
            if math.isfinite(v)
        )
        lines.append(
            f'<polyline data-series="{html.escape(s.name)}" fill="none" stroke="{s.colour}" '
            f'stroke-width="{s.width}" vector-effect="non-scaling-stroke" points="{points}">'
            f"<title>{html.escape(s.name)}</title></polyline>"
        )
    marks = [_marker(frame, m) for m in markers]
    hover = _hover(drawn, frame, unit, with_time)
    clip = "clip-" + "-".join(
        re.sub(r"[^A-Za-z0-9]", "_", v) for v in (kind, *(attrs_ or {}).values())
    )
    plot_w, plot_h = frame.width - LEFT - RIGHT, height - TOP - BOTTOM
    return (
        f'<svg class="chart" data-chart="{kind}"{extra} viewBox="0 0 {frame.width} {height}" '
        f'width="{frame.width}" height="{height}" role="img" '
        f'data-plot="{LEFT},{frame.width - RIGHT}" '
        f"data-hover='{html.escape(hover, quote=True)}'>"
        f'<defs><clipPath id="{clip}"><rect x="{LEFT}" y="0" width="{plot_w}" '
        f'height="{height}"/></clipPath></defs>'
        + _axes(frame, unit, with_time)
        + f'<g clip-path="url(#{clip})"><g class="plot">'
        + "".join(lines)
        + '</g></g><g class="marks">'
        + "".join(marks)
        + f'</g><rect class="sel" x="0" y="{TOP}" width="0" height="{plot_h}"/>'
        + f'<g class="cursor" visibility="hidden"><line x1="0" x2="0" y1="{TOP}" '
        f'y2="{height - BOTTOM}"/><rect x="0" y="0" width="10" height="18" rx="3"/>'
        '<text x="0" y="0"></text></g></svg>'
    )


def _marker(frame: Frame, m: Marker) -> str:
    x, y = frame.x(m.ts_ns), frame.y(m.value)
    if m.kind == "entry":
        up = m.side == "long"
        d = f"M{x:.1f},{y - 1:.1f} l-5,9 h10 z" if up else f"M{x:.1f},{y + 1:.1f} l-5,-9 h10 z"
        colour = "#16a34a" if up else "#dc2626"
        shape = f'<path d="{d}" fill="{colour}" stroke="#fff" stroke-width="0.6"'
    else:
        shape = (
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#fff" stroke="#111" stroke-width="1.4"'
        )
    return (
        f'{shape} class="marker" data-marker="{m.kind}" data-side="{m.side}" data-x="{x:.1f}">'
        f"<title>{html.escape(m.title)}</title></{'path' if m.kind == 'entry' else 'circle'}>"
    )


def _hover(series: Sequence[Series], frame: Frame, unit: str, with_time: bool) -> str:
    """The hover stops: pixel x and the line the cursor shows there (first series' times)."""
    first = series[0]
    stops = []
    for i in _thin(len(first.ts), MAX_HOVER):
        t = first.ts[i]
        text = [iso(t, with_time=with_time), f"{first.name} {fmt_value(first.values[i], unit)}"]
        for s in series[1:]:
            # The other series' point at ``t`` (its last, as its times ascend), looked up
            # where it is rather than copied into a dict of one entry a bar.
            j = bisect.bisect_right(s.ts, t) - 1
            if j >= 0 and s.ts[j] == t:
                text.append(f"{s.name} {fmt_value(s.values[j], unit)}")
        stops.append([round(frame.x(t), 1), "  ".join(text)])
    return orjson.dumps(stops).decode()


def bar_chart(values: dict[str, float], *, kind: str, unit: str = "") -> str:
    """Horizontal bars around zero, one per name, largest loss at the top."""
    if not values:
        return f'<p class="na" data-chart="{kind}">nothing to show</p>'
    row = 26
    height = 16 + row * len(values)
    biggest = max(abs(v) for v in values.values()) or 1.0
    label_w, value_w = 170, 120
    mid = label_w + (W - label_w - value_w) / 2
    half = (W - label_w - value_w) / 2 - 4
    parts = []
    for i, (name, value) in enumerate(sorted(values.items(), key=lambda kv: kv[1])):
        y = 8 + row * i
        width = abs(value) / biggest * half
        x = mid if value >= 0 else mid - width
        colour = "#16a34a" if value >= 0 else "#dc2626"
        text = f"{name}: {fmt_value(value, unit) if unit else f'{value:+,.2f}'}"
        parts.append(
            f'<g data-bar="{html.escape(name)}"><title>{html.escape(text)}</title>'
            f'<text x="8" y="{y + 14}" class="label">{html.escape(name)}</text>'
            f'<rect x="{x:.1f}" y="{y}" width="{max(width, 0.5):.1f}" height="18" '
            f'fill="{colour}"/><text x="{W - value_w + 8}" y="{y + 14}" class="label">'
            f"{value:+,.2f}{unit}</text></g>"
        )
    return (
        f'<svg class="chart" data-chart="{kind}" viewBox="0 0 {W} {height}" width="{W}" '
        f'height="{height}" role="img"><line x1="{mid:.1f}" x2="{mid:.1f}" y1="0" '
        f'y2="{height}" stroke="#888"/>' + "".join(parts) + "</svg>"
    )
