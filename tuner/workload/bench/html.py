"""`tuner bench --html`: a bench report as one self-contained HTML page.

This module owns the page: the before/after table and an inline SVG bar chart of the median
latencies on a log scale. The page loads nothing (no scripts, fonts, images or CDN; inline
CSS only), so it can be mailed or attached to a pull request. Coordinates are computed here in
Python; the jinja2 template only places them, with autoescaping on, because query names,
descriptions, SQL and paths come from the user.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import jinja2

from tuner.report import cost_words, speedup_words

# Chart geometry, in SVG user units (the SVG scales to the page width).
WIDTH = 960
BAR = 16  # height of one bar
GAP = 14  # space between two queries' groups
TOP = 56  # legend and the top axis labels
BOTTOM = 30  # bottom axis labels
RIGHT = 90  # room for the value label after the longest bar
CHAR = 7.2  # rough width of one character of the 12px label font
MIN_BAR = 2.0  # a bar at the axis minimum still shows

COLORS = {"before": "#c0504d", "after": "#2e7d32", "measured": "#1f5fa8"}
LEGEND = {"before": "before (untouched copy)", "after": "after (tuned copy)",
          "measured": "median latency"}


@dataclass(frozen=True)
class Bar:
    query: str
    side: str  # before, after or measured: also the CSS class
    ms: float
    x: float
    y: float
    width: float
    label: str


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


def fmt_ms(ms: float) -> str:
    """`12.3 ms`, `0.042 ms`: three significant digits, at least."""
    if ms >= 100:
        return f"{ms:,.0f} ms"
    if ms >= 1:
        return f"{ms:.2f} ms"
    return f"{ms:.3g} ms"


def power_label(exp: int) -> str:
    """10**exp milliseconds as a plain number: 0.001, 0.1, 1, 10, 1,000."""
    return f"{10 ** exp:,}" if exp >= 0 else f"{10.0 ** exp:.{-exp}f}"


def chart(groups: list[tuple[str, list[tuple[str, float]]]]) -> dict[str, Any]:
    """Bars and ticks for `groups` (query name, [(side, ms), ...]) on a log axis from the
    power of ten at or below the fastest time to the one at or above the slowest."""
    values = [ms for _, sides in groups for _, ms in sides if ms > 0]
    low, high = (min(values), max(values)) if values else (1.0, 1.0)
    lo_exp = math.floor(math.log10(low))
    hi_exp = max(math.ceil(math.log10(high)), lo_exp + 1)
    longest = max((len(name) for name, _ in groups), default=8)
    left = min(max(longest * CHAR + 16, 120), 340)
    span = WIDTH - left - RIGHT

    def x_of(ms: float) -> float:
        if ms <= 0:
            return left
        return left + span * (math.log10(ms) - lo_exp) / (hi_exp - lo_exp)

    per_group = BAR * max((len(sides) for _, sides in groups), default=1)
    bars, labels = [], []
    y = TOP
    for name, sides in groups:
        labels.append({"text": name, "y": y + per_group / 2})
        for i, (side, ms) in enumerate(sides):
            width = max(x_of(ms) - left, MIN_BAR)
            bars.append(Bar(name, side, ms, left, y + i * BAR, width, fmt_ms(ms)))
        y += per_group + GAP
    bottom = y - GAP + 8
    ticks = [Tick(x_of(10.0 ** e), power_label(e)) for e in range(lo_exp, hi_exp + 1)]
    legend = sorted({b.side for b in bars}, key=list(COLORS).index)
    return {"width": WIDTH, "height": bottom + BOTTOM, "left": left, "top": TOP - 12,
            "bottom": bottom, "bars": bars, "labels": labels, "ticks": ticks,
            "legend": [{"side": s, "text": LEGEND[s], "color": COLORS[s]} for s in legend],
            "colors": COLORS, "bar": BAR - 3}


def bench_html(report: Any) -> str:
    """The whole page for a `BenchReport` (compare or single side)."""
    d = report.as_dict()
    by_name = {q.query.name: q.query for q in report.queries}
    rows = []
    for q in d["queries"]:
        query = by_name[q["name"]]
        row = {"name": q["name"], "description": query.description or "", "sql": query.sql,
               "rows": f"{q['rows']:,}", "after": fmt_ms(q["median_ms"]),
               "p95": fmt_ms(q["p95_ms"]), "plan": q["plan"]}
        if report.compare:
            row.update(before=fmt_ms(q["before"]["median_ms"]),
                       before_plan=q["before"]["plan"],
                       speedup=speedup_words(q),
                       same_rows=bool(q["same_rows"]))
        rows.append(row)
    if report.compare:
        groups = [(q["name"], [("before", q["before"]["median_ms"]), ("after", q["median_ms"])])
                  for q in d["queries"]]
    else:
        groups = [(q["name"], [("measured", q["median_ms"])]) for q in d["queries"]]
    return _ENV.from_string(TEMPLATE).render(
        d=d, compare=report.compare, rows=rows, chart=chart(groups),
        cost=d["write_cost"],
        cost_words=cost_words(d["write_cost"]) if d["write_cost"] and d["write_cost"]["ratio"]
        else "")


_ENV = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True,
                          undefined=jinja2.StrictUndefined)

TEMPLATE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tuner bench: {{ d.profile.name }} on {{ d.database }}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       margin: 24px auto; max-width: 1100px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; }
.meta { color: #555; margin: 0 0 8px; }
code, pre { font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
pre { white-space: pre-wrap; margin: 4px 0; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.desc { color: #555; font-size: 12px; }
.bad { color: #b00020; font-weight: bold; }
.plan { font-size: 12px; }
svg { width: 100%; height: auto; display: block; }
svg text { font: 12px system-ui, sans-serif; fill: #222; }
svg .tick line { stroke: #ccc; }
svg .tick text, svg .value { fill: #444; }
</style>
</head>
<body>
<h1>tuner bench: profile {{ d.profile.name }} v{{ d.profile.version }} on {{ d.database }}</h1>
<p class="meta">{{ d.queries|length }} queries, median of {{ d.runs }} runs after {{ d.warmup }}
warm-up{% if compare %}; before vs. after the plan ({{ d.applied_steps }} steps, applied to a
temporary copy; the database itself was only read){% endif %}. Profile file:
<code>{{ d.profile.path }}</code>.</p>

<h2>Median latency per query (ms, log scale)</h2>
<svg viewBox="0 0 {{ chart.width }} {{ chart.height }}" role="img"
     aria-label="median latency per query, log scale">
<title>Median latency per query, milliseconds, log scale</title>
{% for item in chart.legend %}
<g class="legend"><rect x="{{ chart.left + loop.index0 * 220 }}" y="6" width="14" height="14"
 fill="{{ item.color }}"/><text x="{{ chart.left + loop.index0 * 220 + 20 }}"
 y="18">{{ item.text }}</text></g>
{% endfor %}
{% for t in chart.ticks %}
<g class="tick"><line x1="{{ '%.1f' % t.x }}" y1="{{ chart.top }}" x2="{{ '%.1f' % t.x }}"
 y2="{{ chart.bottom }}"/><text x="{{ '%.1f' % t.x }}" y="{{ chart.top - 4 }}"
 text-anchor="middle">{{ t.label }}</text><text x="{{ '%.1f' % t.x }}" y="{{ chart.bottom + 16 }}"
 text-anchor="middle">{{ t.label }}</text></g>
{% endfor %}
<text x="{{ chart.width - 4 }}" y="{{ chart.bottom + 16 }}" text-anchor="end">ms</text>
{% for l in chart.labels %}
<text x="{{ chart.left - 8 }}" y="{{ '%.1f' % (l.y + 4) }}" text-anchor="end">{{ l.text }}</text>
{% endfor %}
{% for b in chart.bars %}
<rect class="bar {{ b.side }}" data-query="{{ b.query }}" data-ms="{{ '%.4f' % b.ms }}"
 x="{{ '%.1f' % b.x }}" y="{{ b.y }}" width="{{ '%.1f' % b.width }}" height="{{ chart.bar }}"
 fill="{{ chart.colors[b.side] }}"><title>{{ b.query }} {{ b.side }}: {{ b.label }}</title></rect>
<text class="value" x="{{ '%.1f' % (b.x + b.width + 4) }}"
 y="{{ b.y + chart.bar - 2 }}">{{ b.label }}</text>
{% endfor %}
</svg>

<h2>Queries</h2>
<table>
<thead><tr><th>query</th><th>rows</th>
{% if compare %}<th>before</th><th>after</th><th>after p95</th><th>speedup</th><th>same rows</th>
<th>plan before / after</th>
{% else %}<th>median</th><th>p95</th><th>plan</th>{% endif %}</tr></thead>
<tbody>
{% for r in rows %}
<tr>
<td><strong>{{ r.name }}</strong>
{% if r.description %}<div class="desc">{{ r.description }}</div>{% endif %}
<details><summary>SQL</summary><pre>{{ r.sql }}</pre></details></td>
<td class="num">{{ r.rows }}</td>
{% if compare %}
<td class="num">{{ r.before }}</td><td class="num">{{ r.after }}</td>
<td class="num">{{ r.p95 }}</td>
<td class="num">{{ r.speedup }}</td>
<td>{% if r.same_rows %}yes{% else %}<span class="bad">NO (results differ)</span>{% endif %}</td>
<td class="plan"><div>before: <code>{{ r.before_plan|join('; ') }}</code></div>
<div>after: <code>{{ r.plan|join('; ') }}</code></div></td>
{% else %}
<td class="num">{{ r.after }}</td><td class="num">{{ r.p95 }}</td>
<td class="plan"><code>{{ r.plan|join('; ') }}</code></td>
{% endif %}
</tr>
{% endfor %}
</tbody>
</table>
{% if cost %}

<h2>Write cost</h2>
{% if cost.measurable %}
<p>{{ '{:,}'.format(cost.batch) }} rows inserted into <code>{{ cost.table }}</code> in one
transaction (rolled back): {{ '%.2f' % cost.before_ms }} ms before,
{{ '%.2f' % cost.after_ms }} ms after
{%- if cost.ratio %} ({{ cost_words }}){% endif %}.</p>
{% else %}
<p>Not measurable ({{ cost.reason }}).</p>
{% endif %}
{% endif %}
{% if d.left_out_settings %}
<h2>Left out of the comparison</h2>
<p>Server-wide settings, not applied to the copy:</p>
<ul>
{% for s in d.left_out_settings %}
<li><code>{{ s.name }}</code>: {{ s.reason }}</li>
{% endfor %}
</ul>
{% endif %}
</body>
</html>
"""
