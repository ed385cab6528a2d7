"""Inline SVG charts for the desk's reports page: pure functions, no JavaScript.

Every chart is a string holding one `<svg>` element that scales to its container (`viewBox`,
`width="100%"`), with `role="img"`, an `aria-label` that says every value, a `<title>` and a
`<desc>`, and visible labels with their values, so it reads on a phone and with a screen
reader alike. Text passed in is escaped. Colours are presentation attributes (no `style`
attributes: the desk's Content-Security-Policy forbids inline styles); the classes
`chart`, `chart-bar`, `chart-columns` and `chart-donut` let a stylesheet size them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Callable, Sequence

#: Default colours (WCAG AA contrast against white for the text colour).
BLUE = "#1d4ed8"
ORANGE = "#c2410c"
GREEN = "#15803d"
GREY = "#d1d5db"
TEXT = "#111827"
MUTED = "#4b5563"

#: Shown inside a chart with nothing to draw.
NO_DATA = "Belum ada data pada periode ini."

_FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'


def _esc(text: object) -> str:
    return escape(str(text), quote=True)


def _num(value: float) -> str:
    """A coordinate with at most one decimal, without a trailing ".0"."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _plain(value: float) -> str:
    """A value as people write it: 3, 2.5 (no trailing zeros)."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _open_svg(width: int, height: int, title: str, description: str, css_class: str) -> str:
    label = f"{title}. {description}" if description else title
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css_class}" '
        f'viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{_esc(label)}" {_FONT}>'
        f"<title>{_esc(title)}</title><desc>{_esc(description)}</desc>"
    )


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    value_text: Callable[[float], str] | None = None,
    color: str = BLUE,
    max_value: float | None = None,
    width: int = 400,
) -> str:
    """A horizontal bar chart: one row per item, its label above the bar, its value beside.

    Args:
        items: (label, value) pairs in display order; values >= 0.
        title: What the chart shows (its accessible name).
        value_text: Formats a value for display (default: the plain number).
        color: Fill of the bars.
        max_value: The value of a full-width bar (default: the largest value).
        width: Width of the drawing in viewBox units (text is 14 units high).

    Returns:
        The `<svg>` element as a string.
    """
    show = value_text or _plain
    description = "; ".join(f"{label}: {show(value)}" for label, value in items) or NO_DATA
    row_height, bar_height, value_room = 46, 18, 78
    height = max(row_height * len(items), 40) + 4
    parts = [_open_svg(width, height, title, description, "chart-bar")]
    top = max([max_value or 0.0, *(value for _, value in items)])
    if not items:
        parts.append(f'<text x="0" y="24" font-size="14" fill="{MUTED}">{_esc(NO_DATA)}</text>')
    full = width - value_room
    for i, (label, value) in enumerate(items):
        y = i * row_height
        bar = full * (value / top) if top > 0 else 0.0
        text = show(value)
        parts.append(
            f"<g><title>{_esc(label)}: {_esc(text)}</title>"
            f'<text x="0" y="{y + 15}" font-size="14" fill="{TEXT}">'
            f"{_esc(_truncate(label, 48))}</text>"
            f'<rect x="0" y="{y + 21}" width="{_num(full)}" height="{bar_height}" rx="3" '
            f'fill="{GREY}" fill-opacity="0.35"/>'
            f'<rect x="0" y="{y + 21}" width="{_num(bar)}" height="{bar_height}" rx="3" '
            f'fill="{color}"/>'
            f'<text x="{_num(full + 6)}" y="{y + 35}" font-size="14" font-weight="600" '
            f'fill="{TEXT}">{_esc(text)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Series:
    """One series of a column chart: its name, one value per label, and its colour."""

    name: str
    values: Sequence[float]
    color: str = BLUE


def column_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    width: int = 400,
    height: int = 220,
    max_value_labels: int = 14,
) -> str:
    """A grouped column chart over a few categories (e.g. days), with a legend.

    Every column carries its value in a tooltip; with at most `max_value_labels`
    categories the values are also written above the columns. Category labels are thinned
    out to about ten so they never overlap.

    Args:
        labels: The categories, in order (e.g. "13/4").
        series: The series drawn side by side; each has one value per label.
        title: What the chart shows (its accessible name).
        width: Width of the drawing in viewBox units.
        height: Height of the drawing in viewBox units.
        max_value_labels: Write values above the columns up to this many categories.

    Returns:
        The `<svg>` element as a string.
    """
    for s in series:
        if len(s.values) != len(labels):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(labels)}")
    description = (
        "; ".join(
            f"{label}: " + ", ".join(f"{s.name} {_plain(s.values[i])}" for s in series)
            for i, label in enumerate(labels)
        )
        or NO_DATA
    )
    parts = [_open_svg(width, height, title, description, "chart-columns")]
    # Legend: a swatch and "name (total)" per series.
    x = 0.0
    for s in series:
        name = f"{s.name} ({_plain(sum(s.values))})"
        parts.append(
            f'<rect x="{_num(x)}" y="2" width="12" height="12" rx="2" fill="{s.color}"/>'
            f'<text x="{_num(x + 16)}" y="13" font-size="13" fill="{TEXT}">{_esc(name)}</text>'
        )
        x += 16 + 7.5 * len(name) + 14
    top_y, bottom_y, left = 44.0, float(height - 24), 28.0
    if not labels:
        parts.append(
            f'<text x="0" y="{_num(top_y + 20)}" font-size="14" fill="{MUTED}">'
            f"{_esc(NO_DATA)}</text></svg>"
        )
        return "".join(parts)
    peak = max([0.0, *(v for s in series for v in s.values)])
    scale_top = _nice_ceiling(peak)
    plot_height = bottom_y - top_y
    # Grid lines at 0, half and the top of the scale.
    for fraction in (0.0, 0.5, 1.0):
        y = bottom_y - plot_height * fraction
        parts.append(
            f'<line x1="{_num(left)}" y1="{_num(y)}" x2="{width}" y2="{_num(y)}" '
            f'stroke="{GREY}" stroke-width="1"/>'
            f'<text x="{_num(left - 4)}" y="{_num(y + 4)}" font-size="12" fill="{MUTED}" '
            f'text-anchor="end">{_esc(_plain(scale_top * fraction))}</text>'
        )
    slot = (width - left) / len(labels)
    group = slot * 0.8
    column = group / max(len(series), 1)
    every = max(1, math.ceil(len(labels) / 10))
    write_values = len(labels) <= max_value_labels
    for i, label in enumerate(labels):
        x0 = left + slot * i + (slot - group) / 2
        for j, s in enumerate(series):
            value = s.values[i]
            h = plot_height * (value / scale_top) if scale_top > 0 else 0.0
            cx = x0 + column * j
            parts.append(
                f"<g><title>{_esc(label)} \u2013 {_esc(s.name)}: {_esc(_plain(value))}</title>"
                f'<rect x="{_num(cx)}" y="{_num(bottom_y - h)}" width="{_num(column * 0.9)}" '
                f'height="{_num(h)}" fill="{s.color}"/>'
            )
            if write_values:
                parts.append(
                    f'<text x="{_num(cx + column * 0.45)}" y="{_num(bottom_y - h - 3)}" '
                    f'font-size="10" fill="{TEXT}" text-anchor="middle">'
                    f"{_esc(_plain(value))}</text>"
                )
            parts.append("</g>")
        if i % every == 0:
            parts.append(
                f'<text x="{_num(left + slot * i + slot / 2)}" y="{height - 6}" '
                f'font-size="12" fill="{MUTED}" text-anchor="middle">{_esc(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _nice_ceiling(value: float) -> float:
    """The top of the value axis: the smallest of 2, 4, 6, 8, 10 x 10^k that is >= value.

    Its half, the middle grid line, is then a whole number too.
    """
    if value <= 2:
        return 2.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (2, 4, 6, 8, 10):
        if step * magnitude >= value:
            return float(step * magnitude)
    return float(20 * magnitude)  # pragma: no cover - the loop always returns


def donut_chart(
    fraction: float | None,
    *,
    title: str,
    caption: str,
    color: str = GREEN,
    rest_color: str = GREY,
) -> str:
    """A donut showing one share (e.g. conversations the bot handled alone).

    Args:
        fraction: The share, 0..1; None draws an empty ring and "-" (no data).
        title: What the chart shows (its accessible name).
        caption: The text under the percentage (e.g. "selesai oleh bot").
        color: Colour of the share.
        rest_color: Colour of the rest of the ring.

    Returns:
        The `<svg>` element as a string.
    """
    if fraction is not None:
        fraction = min(1.0, max(0.0, fraction))
    percent = "-" if fraction is None else f"{fraction * 100:.1f}".replace(".", ",") + "%"
    description = f"{caption}: {percent}" if fraction is not None else f"{caption}: {NO_DATA}"
    parts = [_open_svg(200, 164, title, description, "chart-donut")]
    # r = 100 / (2 pi): the circumference is 100 units, so the dash length is the percentage.
    radius = 100 / (2 * math.pi)
    parts.append(
        f'<g transform="translate(100 72) scale(3.6)">'
        f'<circle r="{radius:.4f}" fill="none" stroke="{rest_color}" stroke-width="4"/>'
    )
    if fraction:
        share = fraction * 100
        parts.append(
            f'<circle r="{radius:.4f}" fill="none" stroke="{color}" stroke-width="4" '
            f'stroke-dasharray="{share:.2f} {100 - share:.2f}" transform="rotate(-90)"/>'
        )
    parts.append("</g>")
    parts.append(
        f'<text x="100" y="81" font-size="24" font-weight="700" fill="{TEXT}" '
        f'text-anchor="middle">{_esc(percent)}</text>'
        f'<text x="100" y="158" font-size="13" fill="{MUTED}" text-anchor="middle">'
        f"{_esc(_truncate(caption, 30))}</text></svg>"
    )
    return "".join(parts)
