"""The claims' forest plot: one row per pair and voting measure, the effect with its interval at the claim's look
level, the zero line and a ±delta band for orientation (:mod:`restoration_reports.claims`; the verdict is the claim's
test, not the band). One panel per measure, since their
units differ; positive always means the side the thesis expected to be better is better.
"""

from __future__ import annotations

import io
from typing import Sequence

from restoration_reports import claims as _claims
from restoration.contract import measures

#: marker colour per verdict (colour-blind safe, the report's palette)
COLOURS = {
    _claims.HELD: "#1b7837",
    _claims.NOT_HELD: "#b2182b",
    _claims.NO_DIFF: "#2166ac",
    _claims.ON_PAR: "#2166ac",
    _claims.NOT_ON_PAR: "#8c6d31",
    _claims.INCONCLUSIVE: "#636363",
    _claims.EXPLORATORY: "#969696",
}


def rows(verdicts: Sequence[_claims.Verdict]) -> dict[str, list[tuple[str, _claims.MeasureEffect]]]:
    """``{measure: [(row label, effect), ...]}`` of the judged claims' voting measures, in claim order."""
    out: dict[str, list] = {}
    for v in verdicts:
        if not v.judged:
            continue
        for p in v.pairs:
            for e in p.voting:
                if e.effect is None:
                    continue
                label = f"{v.claim.id}: {p.better} vs {p.worse}" if len(v.pairs) > 1 else v.claim.id
                out.setdefault(e.measure, []).append((label, e))
    return out


def forest_png(verdicts: Sequence[_claims.Verdict]) -> bytes | None:
    """The plot as PNG bytes; ``None`` when no claim has an effect to show."""
    # A matplotlib figure is a sequence of drawing calls; kept linear on purpose (as scikit-image's plotting examples).
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = rows(verdicts)
    if not panels:
        return None
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(8.0, 0.9 + sum(0.32 * len(r) + 0.6 for r in panels.values())),
        gridspec_kw={"height_ratios": [len(r) + 1.5 for r in panels.values()]},
        squeeze=False,
    )
    for ax, (measure, items) in zip(axes[:, 0], panels.items()):
        m = measures.get(measure)
        ys = list(range(len(items)))[::-1]
        deltas = {e.delta for _, e in items if e.delta is not None}
        for delta in deltas:
            ax.axvspan(-delta, delta, color="#d9e6f2", alpha=0.6, lw=0, zorder=0)
        ax.axvline(0, color="black", lw=0.8, zorder=1)
        for y, (label, e) in zip(ys, items):
            colour = COLOURS.get(e.verdict, "#636363")
            eff = e.effect
            if eff.low is not None:
                ax.plot([eff.low, eff.high], [y, y], color=colour, lw=2, solid_capstyle="butt", zorder=2)
            ax.plot(
                [eff.mean],
                [y],
                "o" if eff.low is not None else "D",
                color=colour,
                ms=5,
                zorder=3,
                mfc=colour if eff.low is not None else "white",
            )
            ax.text(1.01, y, e.verdict, transform=ax.get_yaxis_transform(), va="center", fontsize=7, color=colour)
        ax.set_yticks(ys)
        ax.set_yticklabels([label for label, _ in items], fontsize=7)
        ax.set_ylim(-0.8, len(items) - 0.2)
        unit = f" ({m.unit})" if m.unit else ""
        band = ", ".join(f"±{d:g}" for d in sorted(deltas))
        ax.set_xlabel(
            f"{m.short or m.label} difference{unit}, expected better minus other (band: ±practical difference {band})"
            if band
            else f"{m.short or m.label} difference{unit}",
            fontsize=8,
        )
        ax.tick_params(axis="x", labelsize=7)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.suptitle(
        f"Effects of the thesis's claims; intervals over seeds at {_levels(panels)} "
        "(open diamond: one seed, no interval)",
        fontsize=8,
    )
    fig.subplots_adjust(top=1 - 0.6 / fig.get_figheight(), hspace=0.9 / len(panels) + 0.15)
    buf = io.BytesIO()
    # a tight box: the pair labels on the left and the verdicts on the right are longer than any fixed margin
    fig.savefig(buf, format="png", dpi=130, bbox_inches="tight", pad_inches=0.15)
    plt.close(fig)
    return buf.getvalue()


def _levels(panels) -> str:
    """``"98.5 %"`` (or ``"95 % / 98.5 %"``): the levels of the intervals drawn, as their effects say."""
    levels = sorted({e.effect.level_text() for items in panels.values() for _, e in items if e.effect.low is not None})
    return " / ".join(levels) if levels else "no level (one seed)"
