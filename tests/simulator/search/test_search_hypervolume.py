"""The exact hypervolume and Pareto set, on cases computed by hand and against a grid count."""

from __future__ import annotations

import itertools
import random

import pytest

from simulator.search.hypervolume import dominates, hypervolume, pareto_indices
from simulator.search.objectives import OBJECTIVES, minimised


def test_dominates():
    assert dominates((1, 2), (2, 2))
    assert not dominates((1, 2), (1, 2))  # equal: not better anywhere
    assert not dominates((1, 3), (2, 2))


def test_pareto_indices_drops_dominated_and_repeats():
    pts = [(3, 1), (1, 3), (2, 2), (2, 3), (1, 3), (3, 3)]
    assert pareto_indices(pts) == [0, 1, 2]  # (2,3), (3,3) dominated; the second (1,3) repeats the first


def test_hypervolume_2d_by_hand():
    # staircase below (4, 4): (1,3) adds 3x1, (2,2) adds 2x1 more, (3,1) adds 1x1 more
    assert hypervolume([(1, 3), (2, 2), (3, 1)], (4, 4)) == pytest.approx(6.0)
    assert hypervolume([(1, 1)], (4, 4)) == pytest.approx(9.0)
    # a dominated point and a repeat add nothing
    assert hypervolume([(1, 1), (2, 2), (1, 1)], (4, 4)) == pytest.approx(9.0)


def test_hypervolume_3d_by_hand():
    # two boxes below (2,2,2): [0,2]x[1,2]x[0,2]... point a = (0,1,0) dominates volume 2*1*2 = 4,
    # point b = (1,0,0) dominates 1*2*2 = 4, overlap [1,2]x[1,2]x[0,2] = 2: union 6
    assert hypervolume([(0, 1, 0), (1, 0, 0)], (2, 2, 2)) == pytest.approx(6.0)
    assert hypervolume([(0, 0, 0)], (1, 2, 3)) == pytest.approx(6.0)
    # different depths: a = (0,0,1) -> 2*2*1 = 4; b = (1,1,0) -> 1*1*2 = 2; overlap [1,2]^2 x [1,2] = 1
    assert hypervolume([(0, 0, 1), (1, 1, 0)], (2, 2, 2)) == pytest.approx(5.0)


def test_points_outside_the_reference_add_nothing():
    assert hypervolume([(5, 0), (0, 5), (4, 4)], (4, 4)) == 0.0  # on or beyond the reference
    assert hypervolume([], (1, 1)) == 0.0
    with pytest.raises(ValueError):
        hypervolume([(1, 2, 3)], (4, 4))


def _grid_count(points, ref, n=24):
    """Volume by counting the cells of an n^d grid over [0, ref] whose centres some point dominates."""
    d = len(ref)
    cell = [r / n for r in ref]
    count = 0
    for idx in itertools.product(range(n), repeat=d):
        c = [(i + 0.5) * w for i, w in zip(idx, cell)]
        if any(all(p[k] <= c[k] for k in range(d)) for p in points):
            count += 1
    vol = 1.0
    for w in cell:
        vol *= w
    return count * vol


@pytest.mark.parametrize("d", [2, 3, 4])
def test_hypervolume_matches_a_grid_count_on_grid_points(d):
    """Points on the grid's cell boundaries: the count is exact, so the two must agree."""
    rng = random.Random(d)
    n = 12
    ref = (1.0,) * d
    pts = [tuple(rng.randrange(n) / n for _ in range(d)) for _ in range(15)]
    assert hypervolume(pts, ref) == pytest.approx(_grid_count(pts, ref, n), rel=1e-9)


def test_maximised_objectives_enter_negated():
    objs = [OBJECTIVES["speedup"], OBJECTIVES["area_mm2"]]
    assert minimised([2.0, 0.5], objs) == [-2.0, 0.5]
    # speedup 2 at area 0.5 against reference (speedup 1, area 1): a 1 x 0.5 box
    assert hypervolume([minimised([2.0, 0.5], objs)], minimised([1.0, 1.0], objs)) == pytest.approx(0.5)
