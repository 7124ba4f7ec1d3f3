"""Line charts as inline SVG, for reports that must open with no network and print as drawn.

Built with ElementTree, so every label is escaped by the serializer; the result is `Markup` and goes into a
template as it is, never through `|safe`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from markupsafe import Markup

SVG_NS = "http://www.w3.org/2000/svg"
#: series colours that read on white and in greyscale print (dark, mid, light), with a dash pattern each
PALETTE = (("#1b6e3a", ""), ("#b3261e", "6 3"), ("#1f4e9c", "2 3"), ("#7a4b00", "8 3 2 3"))


@dataclass
class Series:
    name: str
    #: (x, y) points in drawing order; x is a turn or session number, y a figure
    points: list[tuple[float, float]]


@dataclass
class Line:
    """A horizontal reference line (a rubric threshold)."""

    label: str
    y: float


@dataclass
class Chart:
    title: str
    series: list[Series]
    x_label: str = ""
    y_label: str = ""
    lines: list[Line] = field(default_factory=list)
    #: the y axis starts at 0 and reaches at least this (e.g. a rubric's maximum)
    y_min_top: float = 1.0
    #: counts: ticks at whole numbers only
    whole: bool = False
    #: the x axis's ends, each whole number between labelled, when charts must line up (default: the points')
    x_range: tuple[float, float] | None = None
    width: int = 640
    height: int = 260


def _ticks(top: float, whole: bool) -> list[float]:
    """About five round steps from 0 to `top` (steps of at least 1 for counts; a count up to ten, every whole
    number, so seven DEAR MAN skills end at 7, not 8)."""
    if whole and top <= 10:
        return [float(i) for i in range(int(top + 0.999) + 1)]
    raw = max(top / 5, 1) if whole else top / 5
    steps = (1, 2, 5) if whole else (1, 2, 2.5, 5)
    step = next(s * 10 ** e for e in range(-2, 6) for s in steps if s * 10 ** e >= raw)
    count = int(top / step + 0.999)
    return [round(i * step, 6) for i in range(count + 1)]


def _num(value: float) -> str:
    return f"{value:g}"


def svg_line_chart(chart: Chart) -> Markup:
    """The chart as an `<svg>` element: axes with ticks, one polyline and one dot per point for each series,
    dashed threshold lines and a legend. An empty chart says so instead of drawing axes over nothing."""
    left, right, top, bottom = 48, 16, 28, 44
    legend_h = 18 * len(chart.series)
    w, h = chart.width, chart.height + legend_h
    plot_w, plot_h = w - left - right, chart.height - top - bottom
    svg = ET.Element("svg", {"xmlns": SVG_NS, "viewBox": f"0 0 {w} {h}", "width": str(w), "height": str(h),
                             "role": "img", "class": "chart", "font-family": "sans-serif", "font-size": "12"})
    ET.SubElement(svg, "title").text = chart.title
    ET.SubElement(svg, "text", {"x": str(left), "y": "16", "font-weight": "bold"}).text = chart.title
    xs = [x for s in chart.series for x, _ in s.points]
    if not xs:
        ET.SubElement(svg, "text", {"x": str(left), "y": str(top + plot_h // 2)}).text = "Nothing to draw yet."
        return Markup(ET.tostring(svg, encoding="unicode"))
    ys = [y for s in chart.series for _, y in s.points] + [line.y for line in chart.lines]
    ticks = _ticks(max([chart.y_min_top, *ys]), chart.whole)
    y_top = ticks[-1]
    x_lo, x_hi = chart.x_range or (min(xs), max(xs))
    x_span = (x_hi - x_lo) or 1

    def px(x: float) -> float:
        return round(left + (x - x_lo) / x_span * plot_w if x_hi > x_lo else left + plot_w / 2, 1)

    def py(y: float) -> float:
        return round(top + plot_h - y / y_top * plot_h, 1)

    grid = ET.SubElement(svg, "g", {"class": "grid", "stroke": "#ddd"})
    for tick in ticks:
        ET.SubElement(grid, "line", {"x1": str(left), "x2": str(left + plot_w), "y1": str(py(tick)),
                                     "y2": str(py(tick))})
        ET.SubElement(svg, "text", {"x": str(left - 6), "y": str(py(tick) + 4), "text-anchor": "end"}).text = \
            _num(tick)
    x_ticks = sorted(set(xs) | set(range(int(x_lo), int(x_hi) + 1) if chart.x_range else ()))
    every = -(-len(x_ticks) // 12)  # at most about twelve labels, so they never run into each other
    for x in x_ticks[::every]:
        ET.SubElement(svg, "text", {"x": str(px(x)), "y": str(top + plot_h + 16), "text-anchor": "middle"}).text = \
            _num(x)
    ET.SubElement(svg, "line", {"x1": str(left), "x2": str(left), "y1": str(top), "y2": str(top + plot_h),
                                "stroke": "#333"})
    ET.SubElement(svg, "line", {"x1": str(left), "x2": str(left + plot_w), "y1": str(top + plot_h),
                                "y2": str(top + plot_h), "stroke": "#333"})
    if chart.x_label:
        ET.SubElement(svg, "text", {"x": str(left + plot_w / 2), "y": str(top + plot_h + 34),
                                    "text-anchor": "middle"}).text = chart.x_label
    if chart.y_label:
        ET.SubElement(svg, "text", {"x": "12", "y": str(top + plot_h / 2), "text-anchor": "middle",
                                    "transform": f"rotate(-90 12 {top + plot_h / 2})"}).text = chart.y_label
    for line in chart.lines:
        ET.SubElement(svg, "line", {"class": "threshold", "x1": str(left), "x2": str(left + plot_w),
                                    "y1": str(py(line.y)), "y2": str(py(line.y)), "stroke": "#888",
                                    "stroke-dasharray": "4 4"})
        ET.SubElement(svg, "text", {"x": str(left + plot_w - 2), "y": str(py(line.y) - 3), "text-anchor": "end",
                                    "fill": "#555"}).text = line.label
    for n, series in enumerate(chart.series):
        colour, dash = PALETTE[n % len(PALETTE)]
        group = ET.SubElement(svg, "g", {"class": "series", "data-name": series.name})
        coords = " ".join(f"{px(x)},{py(y)}" for x, y in series.points)
        style = {"fill": "none", "stroke": colour, "stroke-width": "2"}
        if dash:
            style["stroke-dasharray"] = dash
        ET.SubElement(group, "polyline", {"points": coords, **style})
        for x, y in series.points:
            dot = ET.SubElement(group, "circle", {"cx": str(px(x)), "cy": str(py(y)), "r": "3", "fill": colour})
            ET.SubElement(dot, "title").text = f"{series.name}: {_num(y)} at {_num(x)}"
        key_y = chart.height + 18 * n + 4
        ET.SubElement(svg, "line", {"x1": str(left), "x2": str(left + 24), "y1": str(key_y), "y2": str(key_y),
                                    **style})
        ET.SubElement(svg, "text", {"x": str(left + 30), "y": str(key_y + 4)}).text = series.name
    return Markup(ET.tostring(svg, encoding="unicode"))


@dataclass
class Bar:
    label: str
    #: a share, 0 to 1
    share: float
    #: written after the bar, e.g. "2 of 3"
    note: str = ""


def svg_share_chart(title: str, bars: list[Bar], width: int = 640) -> Markup:
    """Shares (of students, of sessions) as horizontal bars from 0 to 100%, each labelled above its bar and its
    figure written after it, so the chart reads in greyscale print and to a screen reader (each bar's title)."""
    left, right, top, row = 8, 120, 28, 40
    h = top + row * max(len(bars), 1) + 8
    plot_w = width - left - right
    svg = ET.Element("svg", {"xmlns": SVG_NS, "viewBox": f"0 0 {width} {h}", "width": str(width), "height": str(h),
                             "role": "img", "class": "chart", "font-family": "sans-serif", "font-size": "12"})
    ET.SubElement(svg, "title").text = title
    ET.SubElement(svg, "text", {"x": str(left), "y": "16", "font-weight": "bold"}).text = title
    if not bars:
        ET.SubElement(svg, "text", {"x": str(left), "y": str(top + 16)}).text = "Nothing to draw yet."
    colour = PALETTE[0][0]
    for n, bar in enumerate(bars):
        y = top + row * n
        share = min(max(bar.share, 0.0), 1.0)
        ET.SubElement(svg, "text", {"x": str(left), "y": str(y + 12)}).text = bar.label
        ET.SubElement(svg, "rect", {"class": "track", "x": str(left), "y": str(y + 17), "width": str(plot_w),
                                    "height": "14", "fill": "#eee"})
        rect = ET.SubElement(svg, "rect", {"class": "bar", "x": str(left), "y": str(y + 17),
                                           "width": str(round(share * plot_w, 1)), "height": "14", "fill": colour})
        figure = f"{bar.note} ({share:.0%})" if bar.note else f"{share:.0%}"
        ET.SubElement(rect, "title").text = f"{bar.label}: {figure}"
        ET.SubElement(svg, "text", {"x": str(left + plot_w + 6), "y": str(y + 28)}).text = figure
    return Markup(ET.tostring(svg, encoding="unicode"))
