"""Render every dashboard's panels with matplotlib from a Prometheus's query API.

``python -m scripts.observability.pictures <prometheus-url> <out-dir> [seconds]``: one
PNG per dashboard (its panels in a grid, the last ``seconds`` of data), for
docs/observability.md. tests/observability/test_prometheus_live.py calls it on a local
run when ACCESS_TEST_OBSERVABILITY_PICTURES is set.
"""

from __future__ import annotations

import json
import math
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt

__all__ = ["main", "render"]

DASHBOARDS = Path(__file__).resolve().parents[2] / "observability" / "dashboards"


def _range(url: str, expr: str, start: float, end: float) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": "2s"})
    with urllib.request.urlopen(f"{url}/api/v1/query_range?{query}", timeout=30) as response:  # noqa: S310
        result: list[dict[str, Any]] = json.loads(response.read())["data"]["result"]
    return result


def _legend(template: str, labels: dict[str, str]) -> str:
    for name, value in labels.items():
        template = template.replace("{{" + name + "}}", value)
    return template


def _busiest(result: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The ``count`` series with the highest values: flat zeros make way for data."""

    def peak(series: dict[str, Any]) -> float:
        values = [float(v) for _, v in series["values"]]
        return max((v for v in values if not math.isnan(v)), default=0.0)

    return sorted(result, key=peak, reverse=True)[:count]


def render(url: str, dashboard: Path, out: Path, seconds: float) -> Path:
    """Draw one dashboard; panels without data say so."""
    model = json.loads(dashboard.read_text())
    panels = model["panels"]
    rows = (len(panels) + 1) // 2
    fig, axes = plt.subplots(rows, 2, figsize=(12, 2.6 * rows), squeeze=False)
    end = time.time()
    start = end - seconds
    for ax, panel in zip(axes.flat, panels, strict=False):
        ax.set_title(panel["title"], fontsize=9)
        ax.tick_params(labelsize=7)
        drawn = 0
        for target in panel["targets"]:
            for series in _busiest(_range(url, target["expr"], start, end), 8):
                xs = [float(t) - start for t, _ in series["values"]]
                ys = [float(v) for _, v in series["values"]]
                label = _legend(target["legendFormat"], series["metric"])[:40] or "value"
                ax.plot(xs, ys, label=label)
                drawn += 1
        unit = panel["fieldConfig"]["defaults"]["unit"]
        ax.set_ylabel({"s": "seconds", "percentunit": "ratio"}.get(unit, unit), fontsize=7)
        if drawn:
            ax.legend(fontsize=6, loc="upper left")
        else:
            ax.text(0.5, 0.5, "no data in this run", ha="center", va="center",
                    transform=ax.transAxes, color="grey")  # fmt: skip
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("seconds into the run", fontsize=7)
    fig.suptitle(model["title"], fontsize=12)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{dashboard.stem}.png"
    fig.savefig(path, dpi=72)
    plt.close(fig)
    return path


def main() -> int:
    """Render every dashboard."""
    url, out = sys.argv[1], Path(sys.argv[2])
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 300.0
    for dashboard in sorted(DASHBOARDS.glob("*.json")):
        print(render(url, dashboard, out, seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
