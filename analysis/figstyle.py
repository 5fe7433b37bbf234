"""The look shared by every hardy-hpc figure: method colours and order, PDF + 300-dpi PNG output,
and value axes that start at zero or show a break mark.

- `colour_of(column, method)`: a fixed colour per method (HARDY, self-control, uniform: the
  Okabe-Ito colour-blind-safe palette), so a method has the same colour in every figure of a
  study; further columns of one method (--group-by variants) take the palette's next unused
  colours in column order.
- `save(fig, stem)`: writes STEM.pdf and STEM.png (300 dpi), each atomically (tmp + rename);
  returns the PNG path.
- `value_axis(ax, lows, highs, percent)`: y limits from the data's range. The axis starts at 0
  when the data come within 40% of it; otherwise it starts near the data and a break mark (two
  short slanted strokes) on the y axis says that it does not start at 0. A percentage axis
  never goes past 100.
"""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend choice)

DPI = 300
# Okabe & Ito (2008): distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000")
METHOD_COLOURS = {"hardy": "#0072B2", "self-control": "#E69F00", "uniform": "#7F7F7F"}
METHOD_ORDER = ("hardy", "self-control", "uniform")
METHOD_MARKERS = {"hardy": "o", "self-control": "s", "uniform": "^"}
TERCILE_HATCH = {"easy": "", "medium": "//", "hard": "xx"}

plt.rcParams.update({
    "font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8, "legend.fontsize": 7,
    "xtick.labelsize": 7, "ytick.labelsize": 7, "axes.spines.top": False,
    "axes.spines.right": False, "pdf.fonttype": 42, "savefig.bbox": "tight",
    "savefig.pad_inches": 0.04,
})


def colours_for(columns):
    """{column: colour} for (column label, method) pairs in display order."""
    out, used = {}, set()
    for label, method in columns:
        base = METHOD_COLOURS.get(method)
        if base is not None and base not in used:
            out[label] = base
            used.add(base)
    spare = [c for c in PALETTE if c not in used and c not in METHOD_COLOURS.values()]
    for label, _ in columns:
        if label not in out:
            out[label] = spare.pop(0) if spare else "#333333"
    return out


def marker_of(method):
    return METHOD_MARKERS.get(method, "D")


def save(fig, stem):
    """Write STEM.pdf and STEM.png (300 dpi) atomically; close fig; return the PNG path."""
    for ext in ("pdf", "png"):
        path = "%s.%s" % (stem, ext)
        tmp = path + ".tmp"
        fig.savefig(tmp, format=ext, dpi=DPI)
        os.replace(tmp, path)
    plt.close(fig)
    print("wrote %s.png and .pdf" % stem)
    return stem + ".png"


def break_mark(ax):
    """Two slanted strokes across the bottom of the y axis: it does not start at zero."""
    kw = dict(transform=ax.transAxes, color="k", clip_on=False, lw=0.8)
    for dy in (0.0, 0.022):
        ax.plot((-0.018, 0.018), (0.012 + dy, 0.032 + dy), **kw)


def value_axis(ax, lows, highs, percent=False):
    """Set the y limits from the data range [min(lows), max(highs)] (bars' bottoms are their
    error bars' lower ends); start at 0 when that is close, else mark a break."""
    lo, hi = min(lows), max(highs)
    span = max(hi - lo, 0.05 * abs(hi), 1e-12)  # one value: a 5% window, not 1e-12
    top = hi + 0.12 * span
    if percent:
        top = min(100.0, top if hi < 100.0 else 100.0)
    if lo >= 0 and lo <= 0.4 * hi:
        ax.set_ylim(0.0, top)
        return False
    if lo < 0:
        ax.set_ylim(lo - 0.12 * span, top)
        ax.axhline(0.0, color="0.3", lw=0.6)
        return False
    ax.set_ylim(max(0.0, lo - 0.25 * span), top)
    break_mark(ax)
    return True
