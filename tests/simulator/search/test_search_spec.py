"""Search specs: what loads, and every bad spec refused in one line with exit code 2."""

from __future__ import annotations

import pytest
from search_helpers import EDGE, spec_data, write_spec

from simulator.search.spec import load_search, parse_search
from sslcsim.cli import main
from workloads.errors import InputError


def test_loads_axes_objectives_and_points(tmp_path):
    s = load_search(write_spec(tmp_path / "s.yaml"))
    assert [a.name for a in s.axes] == ["denser_engine.rows", "sparser_engine.lines", "dram.bandwidth_gbps", "rank",
                                        "pattern"]
    assert [o.name for o in s.objectives] == ["total_cycles", "pj_per_token", "area_mm2"]
    assert s.reference == (2.0e6, 1.0e9, 2.0)
    params = s.params({"denser_engine.rows": 8, "sparser_engine.lines": 4, "dram.bandwidth_gbps": 12.8, "rank": 16,
                       "pattern": "2:4"})
    point = s.point(params, "trial 0")
    assert point.hardware["denser_engine"]["rows"] == 8 and point.workload["rank"] == 16
    assert point.workload["ratio"] == 0.5  # from fixed


def test_search_point_is_the_sweep_point(tmp_path):
    """A trial's point is resolved by the sweep itself: same key as the sweep spec listing it."""
    from simulator.sweep.spec import parse_spec

    s = load_search(write_spec(tmp_path / "s.yaml"))
    params = {"denser_engine.rows": 8, "sparser_engine.lines": 4, "dram.bandwidth_gbps": 12.8, "rank": 16,
              "pattern": "unstructured"}
    sweep = parse_spec(s.sweep_spec([params], "again"), "again.yaml", tmp_path)
    assert sweep.points[0].key == s.point(params, "trial 0").key


def test_zipped_choice(tmp_path):
    data = spec_data()
    data["search"]["axes"] = {"denser_engine.rows,denser_engine.cols": [[8, 8], [16, 32]], "rank": [8, 16]}
    s = parse_search(data, "s.yaml", tmp_path)
    label = s.axes[0].labels()[1]
    assert label == "[16, 32]"
    assert s.params({"denser_engine.rows,denser_engine.cols": label, "rank": 8}) == {
        "denser_engine.rows": 16, "denser_engine.cols": 32, "rank": 8}


def _with(**changes):
    data = spec_data()
    for key, value in changes.items():
        if key.startswith("search_"):
            data["search"][key[len("search_"):]] = value
        else:
            data[key] = value
    return data


BAD = [
    (_with(search_axes={"denser_engine.rowz": [4, 8]}), "unknown axis key 'denser_engine.rowz'"),
    (_with(search_axes={"rank": []}), "search.axes.rank: empty axis"),
    (_with(search_objectives=["speed"], search_reference={"speed": 1.0}), "unknown objective 'speed'"),
    (_with(search_trials=0), "key 'trials'"),
    (_with(search_reference={"total_cycles": 1.0}), "search.reference: give one value per objective"),
    (_with(search_axes={"rank": {"low": 32, "high": 4}}), "need low <= high"),
    (_with(search_axes={"rank": {"low": 4.5, "high": 8, "integer": True}}), "whole low and high"),
    (_with(search_axes={"denser_engine.rows": {"low": 0, "high": 8, "integer": True}}),
     "search.axes.denser_engine.rows = 0"),
    (_with(search_axes={"preserve": [0.01, 1.5]}), "search.axes.preserve = 1.5"),
    (_with(search_sampler="cmaes"), "key 'sampler'"),
    (_with(search_sampler="tpe"), "population: applies to sampler nsga2 only"),
    (_with(search_objectives=["perplexity"], search_reference={"perplexity": 30.0}), "needs measured artifacts"),
    (_with(fixed={"rank": 8}), "key 'rank' is given both in fixed and as an axis"),
    (_with(model="gpt-17"), "gpt-17"),
    (_with(layers=99), "exceeds the model's 30 layers"),
    (_with(grid={"rank": [8]}), "grid: a search spec has a search section"),
    (_with(colour="red"), "colour"),
]


@pytest.mark.parametrize("data,needle", BAD, ids=[n for _, n in BAD])
def test_bad_spec_is_one_line_exit_2(tmp_path, capsys, data, needle):
    spec = write_spec(tmp_path / "bad.yaml", data)
    with pytest.raises(InputError, match=None) as exc:
        load_search(spec)
    assert needle in str(exc.value)
    assert main(["search", str(spec), "--out", str(tmp_path / "s.db")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err
    assert not (tmp_path / "s.db").exists()  # refused before the study is created


def test_energy_objective_needs_a_technology(tmp_path):
    import yaml

    hw = yaml.safe_load(EDGE.read_text())
    del hw["technology"]
    data = _with(hardware=hw)
    with pytest.raises(InputError, match="'pj_per_token' needs a hardware config with a technology"):
        parse_search(data, "s.yaml", tmp_path)


def test_no_search_section(tmp_path):
    data = spec_data()
    del data["search"]
    with pytest.raises(InputError, match="no search section"):
        parse_search(data, "s.yaml", tmp_path)


@pytest.mark.parametrize("argv,needle", [(["--trials", "0"], "--trials 0"), (["--seed", "-1"], "--seed -1"),
                                         (["--formats", "gif"], "--formats gif")])
def test_bad_flags(tmp_path, capsys, argv, needle):
    spec = write_spec(tmp_path / "s.yaml")
    assert main(["search", str(spec), "--out", str(tmp_path / "s.db"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err


def test_flags_override_the_spec(tmp_path, capsys):
    """--trials, --seed and --sampler replace the spec's; a population the new sampler does not
    use is dropped with a note, not silently."""
    spec = write_spec(tmp_path / "s.yaml")
    assert main(["search", str(spec), "--out", str(tmp_path / "s.db"), "--dry-run", "--trials", "40",
                 "--sampler", "tpe"]) == 0
    out = capsys.readouterr()
    assert "sampler tpe; 40 trials, 0 done, 40 to run" in out.out
    assert "search.population (4) applies to nsga2 and is not used" in out.err
