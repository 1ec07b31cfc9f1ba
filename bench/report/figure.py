"""A rendered plot: PNG bytes and the names in its legends (matplotlib, no pyplot state).

The legend names travel with the image, so the HTML report can list them in words beside it
(a caption a reader can search and a test can check) without reading pixels.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from matplotlib.figure import Figure

DPI = 100


@dataclass
class Plot:
    name: str  # file-name friendly
    title: str
    png: bytes
    series: tuple[str, ...] = ()  # the legend entries, in the order drawn


def legend_entries(fig: Figure) -> tuple[str, ...]:
    """Every legend entry of the figure, each once, in the order of its axes."""
    seen: dict[str, None] = {}
    for legend in [*(ax.get_legend() for ax in fig.axes), *fig.legends]:
        if legend is not None:
            seen.update(dict.fromkeys(text.get_text() for text in legend.get_texts()))
    return tuple(seen)


def render(fig: Figure, name: str, title: str) -> Plot:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=DPI)
    return Plot(name, title, buf.getvalue(), legend_entries(fig))
