"""The review as one page of text, from the document ``build_review`` returns. Times are UTC
to the second; a count of zero in a table is ``-``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

_MAX_VALUE = 80  # a context value longer than this is cut (the JSON has it whole)
MAX_ROWS = 10  # a list longer than this shows its latest rows (the JSON has them all)
MAX_DAY_COLUMNS = 8  # more days than this: one row per day instead of a column per day


def render(doc: dict[str, Any]) -> str:
    window = doc["window"]
    lines = [
        f"quantbot review: last {window['span']}, {_t(window['since'])} .. "
        f"{_t(window['until'])} UTC",
        _daemon(doc["daemon"]),
    ]
    if doc["nothing_recorded"]:
        lines += ["", f"nothing recorded since {_t(window['since'])} UTC (no run, decision, "
                      "alert or event in the records)"]  # fmt: skip
    else:
        lines += ["", *_broke(doc["broke"]), "", *_denied(doc["denied"])]
    lines += ["", *_drifted(doc["drifted"]), "", *_go_live(doc["go_live"])]
    lines += [f"UNREADABLE {problem}" for problem in doc["unreadable"]]
    return "\n".join(lines) + "\n"


def _t(ts: Any) -> str:
    """``2026-12-07T22:08:18.400819Z`` → ``2026-12-07 22:08:18``."""
    return f"{ts[:10]} {ts[11:19]}" if isinstance(ts, str) and len(ts) >= 19 else str(ts)


def _daemon(daemon: dict[str, Any]) -> str:
    state = "running" if daemon["running"] else "stopped"
    now = "trading now" if daemon["running"] else "at next start"
    line = f"daemon    {state}; {now}: {daemon['trading']}"
    last = daemon["last_status"]
    if last:
        died = last["daemon"] == "running" and not daemon["running"]
        line += (
            f" (last status {_t(last['ts'])}: run {last['run_id']} ({last['execution_mode']})"
            f"{', never reported its stop' if died else ''})"
        )
    return line


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _context(context: dict[str, Any]) -> str:
    return " ".join(f"{k}={_value(v)}" for k, v in context.items())


def _latest(rows: list[Any], indent: str, row: Callable[[Any], str]) -> list[str]:
    """Each row, or the latest ``MAX_ROWS`` of them and how many earlier are not shown."""
    shown = [f"{indent}{row(r)}" for r in rows[-MAX_ROWS:]]
    if len(rows) > MAX_ROWS:
        shown.insert(0, f"{indent}... {len(rows) - MAX_ROWS:,} earlier (--json has every one)")
    return shown


def _section(name: str, rows: list[Any], what: str, row: Callable[[Any], str]) -> list[str]:
    head = f"  {name:<9} {f'{len(rows):,}' if rows else 'none'}{f' {what}' if rows else ''}"
    return [head, *_latest(rows, "    ", row)]


def _broke(broke: dict[str, Any]) -> list[str]:
    return [
        "WHAT BROKE",
        *_section("halts", broke["halts"], "(halts, kill switch, drawdown trips)", lambda h: (
            f"{_t(h['at'])}  {h['kind']}  {h['code']}  {_context(h['context'])}  "
            f"(run {h['run_id']})"
        )),
        *_section("crashes", broke["crashes"], "run(s) without a clean stop", lambda c: (
            f"run {c['run_id']} ({c['execution_mode']}): started {_t(c['started_at'])}, "
            f"last seen {_t(c['last_seen'])}; {c['detail']}"
        )),
        *_section("breakers", broke["breakers"], "dependency(ies) opened", lambda b: (
            f"{b['dependency']}  opened {b['openings']}x  {_t(b['first'])} .. {_t(b['last'])}"
            f"  max level {b['max_level']}  last failure: {_value(b['last_failure'] or '-')}"
        )),
        *_section("alerts", broke["alerts"], "kind(s)", lambda a: (
            f"{a['alert']}{' ' + a['about'] if a['about'] else ''}  {a['count']}x  "
            f"{_t(a['first'])} .. {_t(a['last'])}{'  (halted trading)' if a['halts'] else ''}"
        )),
        *_section("runs", broke["runs"], "run(s)", lambda r: (
            f"{r['run_id']} ({r['execution_mode']}) {_t(r['started_at'])} .. "
            + (f"{_t(r['ended_at'])}" if r["ended_at"] else "(no end)")
            + (f", halted {r['halted']}" if r["halted"] else "")
        )),
    ]  # fmt: skip


def _denied(denied: dict[str, Any]) -> list[str]:
    quiet = ", ".join(f"{c} {n:,}" for c, n in sorted(denied["not_counted"].items()))
    head = f"WHAT WAS DENIED  {denied['total']:,} of {denied['decisions']:,} decisions"
    if quiet:
        head += f" (not counted, nothing to do: {quiet})"
    if not denied["total"]:
        return [head]
    codes = sorted(denied["by_code"], key=lambda c: (-denied["by_code"][c], c))
    days = sorted(denied["by_day"])
    sleeves = sorted(denied["by_sleeve"], key=lambda s: (s.startswith("("), s))
    by_day = (
        _matrix("by day", codes, denied["by_code"], [(d[5:], denied["by_day"][d]) for d in days])
        if len(days) <= MAX_DAY_COLUMNS
        else _day_rows(denied["by_day"], days)
    )
    return [
        head,
        *by_day,
        *_matrix(
            "by sleeve", codes, denied["by_code"], [(s, denied["by_sleeve"][s]) for s in sleeves]
        ),
    ]


def _day_rows(by_day: dict[str, dict[str, int]], days: list[str]) -> list[str]:
    """A long window: one line per day, its codes most frequent first."""
    width = max(5, *(len(f"{sum(by_day[d].values()):,}") for d in days))
    lines = [f"  {'by day':<10}  {'total':>{width}}  codes"]
    for day in days:
        counts = by_day[day]
        codes = sorted(counts, key=lambda c: (-counts[c], c))
        listed = ", ".join(f"{c} {counts[c]:,}" for c in codes)
        lines.append(f"  {day}  {sum(counts.values()):>{width},}  {listed}")
    return lines


def _matrix(
    title: str,
    codes: list[str],
    totals: dict[str, int],
    columns: list[tuple[str, dict[str, int]]],
) -> list[str]:
    header = [title, "total", *(label for label, _ in columns)]
    rows = [
        [code, f"{totals[code]:,}", *(f"{c.get(code, 0):,}" if c.get(code) else "-"
                                      for _, c in columns)]
        for code in codes
    ]  # fmt: skip
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    out = []
    for r in [header, *rows]:
        cells = [
            r[0].ljust(widths[0]),
            *(cell.rjust(w) for cell, w in zip(r[1:], widths[1:], strict=True)),
        ]
        out.append("  " + "  ".join(cells))
    return out


def _drifted(drifted: dict[str, Any]) -> list[str]:
    lines = ["WHAT DRIFTED"]
    for name, section in drifted.items():
        label = name.replace("_", " ")
        if section is None:
            lines.append(f"  {label:<17} not configured")
        elif "error" in section:
            lines.append(f"  {label:<17} cannot be read: {section['error']}")
        else:
            lines += _DRIFT.get(name, _generic)(label, section)
    return lines


def _quarantine(label: str, q: dict[str, Any]) -> list[str]:
    active, events = q["active"], q["events"]
    lines = [f"  {label:<17} {len(active)} in force, {len(events):,} event(s) in the window"]
    for a in active:
        if "error" in a:
            lines.append(f"    in force: {a['error']}")
            continue
        until = _t(a["until"]) if a["until"] else f"bar {a['until_bar']}"
        lines.append(
            f"    in force: {a['scope']} {a[a['scope']]} ({a['trigger']}) since "
            f"{_t(a['since'])} until {until}"
        )
    return lines + _latest(events, "    ", _quarantine_event)


def _quarantine_event(e: dict[str, Any]) -> str:
    extra = ", ".join(f"{k} {e[k]}" for k in ("trigger", "by") if k in e)
    return f"{_t(e['at'])}  {e['event']}  {e['scope']} {e['name']}" + (
        f" ({extra})" if extra else ""
    )


def _weights(weights: dict[str, float] | None) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in sorted((weights or {}).items()))


def _allocation(label: str, a: dict[str, Any]) -> list[str]:
    current = a["current"]
    now = (
        f"version {current['version']} ({current['day']}, {current['reason']}): "
        f"{_weights(current['weights'])}"
        if current
        else "no version yet"
    )
    lines = [f"  {label:<17} {now}; {len(a['changes'])} change(s) in the window"]
    return lines + _latest(a["changes"], "    ", _allocation_change)


def _allocation_change(c: dict[str, Any]) -> str:
    moved = ", ".join(
        f"{k} {c['previous'].get(k, 0):g} -> {v:g}" for k, v in sorted(c["weights"].items())
    )
    return f"{c['day']}  v{c['version']}  {c['reason']}: {moved}"


def _overrides(label: str, o: dict[str, Any]) -> list[str]:
    lines = [f"  {label:<17} in force: version {o['head'] if o['head'] is not None else '-'}; "
             f"{len(o['changes'])} version(s) in the window"]  # fmt: skip
    return lines + _latest(o["changes"], "    ", _override_version)


def _override_version(c: dict[str, Any]) -> str:
    shown = " ".join(f"{k}={v}" for k, v in c["overrides"].items()) or "(none: base values)"
    previous = "-" if c["previous"] is None else f"v{c['previous']}"
    return f"{c['day']}  v{c['version']}  {c['kind']} (was {previous}): {shown}"


def _generic(label: str, section: dict[str, Any]) -> list[str]:
    """Another feature's summary: each top-level key on a line of its own."""
    return [f"  {label}", *(f"    {k}: {_value(v)}" for k, v in sorted(section.items()))]


def _tripwire(label: str, t: dict[str, Any]) -> list[str]:
    entries = t["entries"]
    lines = [f"  {label:<17} {len(t['triggered'])} triggered of {len(entries)} watched"]
    for e in entries:
        state = f"TRIGGERED ({e['action']})" if e["triggered"] else "ok"
        lines.append(
            f"    {e['policy']} {e['sleeve']} {e['metric']}: {state}; baseline "
            f"{_value(e['baseline'])}, current {_value(e['current'])}, drop {_value(e['drop'])}"
        )
        if e.get("cleared"):
            c = e["cleared"]
            lines.append(f"      cleared {_t(c.get('at'))}: {c.get('reason', '')}")
    return lines


def _charter(label: str, c: dict[str, Any]) -> list[str]:
    domains = c["domains"]
    eligible = sum(1 for d in domains.values() if d["eligible"])
    lines = [f"  {label:<17} {len(domains)} domain(s), {eligible} production-eligible"]
    for name, d in domains.items():
        rate = "-" if d["success_rate"] is None else f"{d['success_rate']:.0%}"
        promoted = "promoted" if d["promoted"] else "not promoted"
        missing = ", ".join(m.get("code", "?") for m in d["missing"]) or "eligible"
        lines.append(f"    {name}: {d['trials']} trial(s), {rate} success, {promoted}; {missing}")
    return lines


_DRIFT: dict[str, Callable[[str, dict[str, Any]], list[str]]] = {
    "quarantine": _quarantine,
    "allocation": _allocation,
    "learned_overrides": _overrides,
    "tripwire": _tripwire,
    "charter": _charter,
}


def _go_live(g: dict[str, Any]) -> list[str]:
    if "error" in g:
        state = f"unknown ({g['error']})"
    elif g["enabled"]:
        state = f"enabled since {_t(g['enabled_at'])}"
    else:
        state = "disabled" + (f" since {_t(g['disabled_at'])}" if g["disabled_at"] else "")
        state += f" (note: {g['note']})" if g.get("note") else ""
    start = g["live_start"]
    live = "allowed" if start == "allowed" else f"refused: {start['code']}"
    checklist = g["checklist"]
    verdict = "passes" if checklist["ok"] else "does not pass"
    return [
        f"GO-LIVE   {state}; a live start now: {live}; the checklist {verdict}",
        *(f"  {'✓' if i['ok'] else '✗'} {i['name']}: {i['detail']}" for i in checklist["items"]),
    ]
