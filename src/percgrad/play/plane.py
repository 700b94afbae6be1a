"""The phase plane of ``percgrad play``: theory's χ₁ over σ_w² × σ_b², the critical line and the
chain's own point, drawn as text for the size it gets."""

from __future__ import annotations

import math

from textual.content import Content

from percgrad.play.compute import PLANE_SIGMA_W2, Plane

CELLS = {"ordered": ("·", "blue"), "chaotic": ("▒", "red"), "critical": ("┃", "bold yellow"),
         "point": ("●", "bold reverse"), "unknown": (" ", "")}


def plane_rows(sigma_b2: tuple[float, ...], rows: int, point_b2: float | None) -> list[int]:
    """The grid rows (σ_b² ascending) that ``rows`` lines show, top first: evenly spaced with
    both ends, and always the one nearest the chain's σ_b²."""
    n = len(sigma_b2)
    if rows >= n:
        chosen = list(range(n))
    else:
        rows = max(rows, 1)
        chosen = sorted({round(i * (n - 1) / max(rows - 1, 1)) for i in range(rows)})
        if point_b2 is not None:
            own = min(range(n), key=lambda i: abs(sigma_b2[i] - point_b2))
            if own not in chosen:
                chosen.remove(min(chosen[1:-1] or chosen, key=lambda i: abs(i - own)))
                chosen = sorted({*chosen, own})
    return chosen[::-1]


def plane_view(plane: Plane | None, point: tuple[float, float] | None, width: int, height: int,
               arch: str) -> Content:
    """The σ_w² × σ_b² plane of theory's χ₁: ordered ·, chaotic ▒, the critical line ┃ and the
    chain's own point ● (▶ or ▲ where it lies beyond the plane), one line per σ_b² of play's
    ladder (as many as fit, the chain's own among them)."""
    what = "" if arch == "plain" else " (plain)"
    title = Content.styled(f"phase plane χ₁(σ_w², σ_b²){what}", "bold")
    if plane is None:
        return Content("\n").join([title, Content.styled("computing…", "dim")])
    cols = max(width - 5, 8)
    w_lo, w_hi = PLANE_SIGMA_W2
    nc = len(plane.sigma_w2)

    def col_of(w: float) -> int:
        return min(max(int((w - w_lo) / (w_hi - w_lo) * cols), 0), cols - 1)

    shown = plane_rows(plane.sigma_b2, height - 2, None if point is None else point[1])
    own = None if point is None else min(shown, key=lambda i: abs(plane.sigma_b2[i] - point[1]))
    lines = [title]
    for gi in shown:
        crit = plane.critical[gi]
        parts: list[tuple[str, str]] = []
        for c in range(cols):
            chi = plane.chi[gi][min(int((c + 0.5) / cols * nc), nc - 1)]
            kind = "unknown" if not math.isfinite(chi) else "ordered" if chi < 1 else "chaotic"
            if crit is not None and w_lo <= crit <= w_hi and c == col_of(crit):
                kind = "critical"
            parts.append(CELLS[kind])
        if point is not None and gi == own:
            w, b = point
            mark = "▲" if b > plane.sigma_b2[-1] + 1e-12 else "▶" if w > w_hi else "●"
            parts[col_of(w)] = (mark, CELLS["point"][1])
        lines.append(Content.assemble((f"{plane.sigma_b2[gi]:>4g} ", "dim"), *_runs(parts)))
    axis = f"{'0':<3}{'σ_w²':^{cols - 6}}{w_hi:>3g}"
    lines.append(Content.styled(f"{'σ_b²':>4} {axis}"[:width], "dim"))
    return Content("\n").join(lines)


def _runs(cells: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Neighbouring cells of one style joined (fewer spans to draw and to save)."""
    out: list[tuple[str, str]] = []
    for text, style in cells:
        if out and out[-1][1] == style:
            out[-1] = (out[-1][0] + text, style)
        else:
            out.append((text, style))
    return out
