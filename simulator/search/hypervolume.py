"""Pareto sets and their exact hypervolume, for objectives that are all minimised.

A maximised objective enters negated (objectives.minimised), and so does its reference.
Pure functions on plain sequences of floats; no optimiser involved, so the search, the
random sweeps it is compared with and the tests measure fronts with the same rule.
"""

from __future__ import annotations

from typing import Sequence

Vector = Sequence[float]


def dominates(a: Vector, b: Vector) -> bool:
    """a dominates b (minimisation): no worse in every objective and better in at least one."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def pareto_indices(points: Sequence[Vector]) -> list[int]:
    """Indices of the non-dominated points, in input order; of equal points only the first is
    kept (a front is a set). Visited in lexicographic order, where a point can only be
    dominated by one visited before it, and so by one already on the front."""
    order = sorted(range(len(points)), key=lambda i: (tuple(points[i]), i))
    front: list[int] = []
    for i in order:
        p = points[i]
        if not any(dominates(points[j], p) or tuple(points[j]) == tuple(p) for j in front):
            front.append(i)
    return sorted(front)


def _hv2(points: list[tuple[float, ...]], ref: tuple[float, ...]) -> float:
    """Area dominated by 2-D points inside the box below `ref`: sweep in x, adding the strip
    each point adds below the lowest y seen so far."""
    area, best_y = 0.0, ref[1]
    for x, y in sorted(points):
        if y < best_y:
            area += (ref[0] - x) * (best_y - y)
            best_y = y
    return area


def _hv(points: list[tuple[float, ...]], ref: tuple[float, ...]) -> float:
    """Exact hypervolume by slicing along the last objective (HSO): between consecutive
    values of it, the dominated region is the (d-1)-dimensional hypervolume of the points
    at or below the slice, times the slice's thickness."""
    if not points:
        return 0.0
    if len(ref) == 1:
        return ref[0] - min(p[0] for p in points)
    if len(ref) == 2:
        return _hv2(points, ref)
    by_last = sorted(points, key=lambda p: p[-1])
    total = 0.0
    for i, p in enumerate(by_last):
        top = by_last[i + 1][-1] if i + 1 < len(by_last) else ref[-1]
        if top > p[-1]:
            total += (top - p[-1]) * _hv([q[:-1] for q in by_last[: i + 1]], ref[:-1])
    return total


def hypervolume(points: Sequence[Vector], reference: Vector) -> float:
    """Volume of the objective space that the points dominate and that `reference` bounds
    (all objectives minimised; units: the product of the objectives' units). Points not
    strictly better than the reference in every objective add nothing. Exact for any number
    of objectives; cost grows as n^(d-1) log n, fine for d <= 4 and a few thousand points."""
    ref = tuple(float(r) for r in reference)
    if any(len(p) != len(ref) for p in points):
        raise ValueError("every point needs one value per objective of the reference")
    inside = [tuple(float(x) for x in p) for p in points if all(x < r for x, r in zip(p, ref))]
    front = [inside[i] for i in pareto_indices(inside)]
    return _hv(front, ref)
