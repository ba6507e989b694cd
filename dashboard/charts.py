"""Charts drawn on the server as SVG (no chart library, no script): bars of runs per bucket,
stacked by outcome."""

from __future__ import annotations

from dataclasses import dataclass

from trax.store import RollupSeries

WIDTH, HEIGHT = 600, 120


@dataclass(frozen=True)
class Bar:
    """One outcome's part of one bucket's bar, in SVG units."""

    x: float
    y: float
    width: float
    height: float
    outcome: str
    count: int
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    peak: int


def runs_per_minute(series: RollupSeries) -> Chart:
    """Completed (bottom), failed, cancelled (top) per bucket, scaled to the busiest bucket."""
    points = series.points
    peak = max((point.stats.finished for point in points), default=0)
    slot = WIDTH / max(len(points), 1)
    bars: list[Bar] = []
    for index, point in enumerate(points):
        base = float(HEIGHT)
        for outcome in ("completed", "failed", "cancelled"):
            count = int(getattr(point.stats, outcome))
            if not count:
                continue
            height = HEIGHT * count / peak
            base -= height
            label = f"{point.start:%H:%M} UTC: {count} {outcome}"
            bars.append(
                Bar(index * slot + 0.5, base, max(slot - 1.0, 0.5), height, outcome, count, label)
            )
    return Chart(WIDTH, HEIGHT, tuple(bars), peak)
