"""Server-side SVG charts for the admin dashboard: no JavaScript, no CDN, no network."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

BAR_COLOUR = "#417690"  # the admin's own blue
GAUGE_BACKGROUND = "#e6eef2"
GRID_COLOUR = "#e5e5e5"
LABEL_MAX = 14


def axis_ticks(peak: int) -> list[int]:
    """0 up to a round number at or above `peak`, in 1-2-5 steps: at most six ticks."""
    if peak <= 0:
        return [0, 1]
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            tick = factor * magnitude
            if peak / tick <= 5:
                top = -(-peak // tick) * tick
                return list(range(0, top + 1, tick))
        magnitude *= 10


def short(label: str) -> str:
    return label if len(label) <= LABEL_MAX else label[: LABEL_MAX - 1] + "…"


def bar_chart(
    items: Sequence[tuple[str, int]],
    *,
    title: str,
    chart_id: str,
    width: int = 720,
    height: int = 240,
) -> SafeString:
    """Vertical bars, one per (label, value), with the value on each bar's tooltip.

    Every label and title goes through format_html, so user data (host names) is escaped.
    """
    if not items:
        return format_html(
            '<svg id="{}" class="chart empty" role="img" width="{}" height="40" '
            'xmlns="http://www.w3.org/2000/svg"><title>{}</title>'
            '<text x="8" y="24" font-size="13">No data in this range</text></svg>',
            chart_id,
            width,
            title,
        )
    # The left margin holds the y-axis numbers and the overhang of the first rotated x label.
    top, bottom, left = 20, 64, 64
    plot_height = height - top - bottom
    ticks = axis_ticks(max(value for _, value in items))
    peak = ticks[-1] or 1
    step = (width - left) / len(items)
    bar_width = max(2.0, step * 0.7)
    bars = []
    for index, (label, value) in enumerate(items):
        bar_height = plot_height * value / peak
        x = left + index * step + (step - bar_width) / 2
        y = top + plot_height - bar_height
        bars.append(
            (
                f"{x:.1f}",
                f"{y:.1f}",
                f"{bar_width:.1f}",
                f"{bar_height:.1f}",
                BAR_COLOUR,
                label,
                value,
                label,
                value,
            )
        )
    rects = format_html_join(
        "",
        '<rect class="bar" x="{}" y="{}" width="{}" height="{}" fill="{}" '
        'data-label="{}" data-value="{}"><title>{}: {}</title></rect>',
        bars,
    )
    # Labels: all of them when they fit, else about ten, so dates stay readable; long ones
    # (host names) are shortened, the bar's tooltip has them whole.
    every = max(1, len(items) // 10)
    labels = format_html_join(
        "",
        '<text class="x-label" x="{}" y="{}" font-size="11" text-anchor="end" '
        'transform="rotate(-35 {} {})">{}</text>',
        (
            (f"{x:.1f}", height - bottom + 14, f"{x:.1f}", height - bottom + 14, short(label))
            for index, (label, _) in enumerate(items)
            if index % every == 0
            for x in [left + index * step + step / 2]
        ),
    )
    grid = format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}"/>'
        '<text class="y-tick" x="{}" y="{}" font-size="11" text-anchor="end">{}</text>',
        (
            (
                left,
                f"{y:.1f}",
                width,
                f"{y:.1f}",
                "#999" if tick == 0 else GRID_COLOUR,
                left - 6,
                f"{y + 4:.1f}",
                tick,
            )
            for tick in ticks
            for y in [top + plot_height - plot_height * tick / peak]
        ),
    )
    axis = grid
    return format_html(
        '<svg id="{}" class="chart" role="img" width="{}" height="{}" viewBox="0 0 {} {}" '
        'xmlns="http://www.w3.org/2000/svg"><title>{}</title>{}{}{}</svg>',
        chart_id,
        width,
        height,
        width,
        height,
        title,
        axis,
        rects,
        labels,
    )


def gauge(percent: Decimal | float, *, title: str, chart_id: str, width: int = 320) -> SafeString:
    """A horizontal 0-100 % bar (cancellation rate, utilisation)."""
    share = max(0.0, min(100.0, float(percent)))
    filled = (width - 2) * share / 100
    return format_html(
        '<svg id="{}" class="chart gauge" role="img" width="{}" height="28" '
        'xmlns="http://www.w3.org/2000/svg"><title>{}</title>'
        '<rect x="1" y="4" width="{}" height="20" fill="{}" rx="3"/>'
        '<rect class="bar" x="1" y="4" width="{}" height="20" fill="{}" rx="3" '
        'data-value="{}"/></svg>',
        chart_id,
        width,
        title,
        width - 2,
        GAUGE_BACKGROUND,
        f"{filled:.1f}",
        BAR_COLOUR,
        share,
    )
