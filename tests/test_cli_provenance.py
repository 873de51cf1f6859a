"""Reports carry their provenance, and `sslcsim reproduce --from REPORT` re-runs one and finds
every number identical (shape-only and artifact reports); a changed number or artifact is
caught."""

from __future__ import annotations

import json
from pathlib import Path

from sslcsim.cli import main
from tests.workloads.artifact_fixture import write_artifact

HW = Path(__file__).resolve().parents[1] / "hwconfigs" / "vitcod.yaml"


def test_shape_report_carries_provenance_and_reproduces(capsys, tmp_path):
    out = tmp_path / "r.json"
    argv = ["simulate", "--model", "smollm2-135m", "--hw", str(HW), "--rank", "16", "--layers", "2",
            "--phase", "prefill", "--seq", "64", "--seed", "3", "--json", str(out)]
    assert main(argv) == 0
    prov = json.loads(out.read_text())["provenance"]
    assert prov["command"] == "sslcsim " + " ".join(argv)
    assert prov["hardware"]["name"] == "vitcod" and len(prov["hardware_sha256"]) == 64
    assert prov["workload"]["budget"]["rank"] == 16 and prov["workload"]["seed"] == 3
    assert prov["simulator_version"] and prov["numba"]
    capsys.readouterr()
    assert main(["reproduce", "--from", str(out)]) == 0
    assert "every number identical" in capsys.readouterr().out
    report = json.loads(out.read_text())
    report["modules"]["MHA"]["sparse_cycles"] += 1
    out.write_text(json.dumps(report))
    assert main(["reproduce", "--from", str(out)]) == 1
    assert "modules.MHA.sparse_cycles" in capsys.readouterr().out


def test_artifact_report_reproduces_and_a_changed_artifact_is_refused(capsys, tmp_path):
    art = tmp_path / "art"
    write_artifact(art)
    out = tmp_path / "r.json"
    assert main(["simulate", "--artifact", str(art), "--hw", str(HW), "--json", str(out)]) == 0
    capsys.readouterr()
    assert main(["reproduce", "--from", str(out)]) == 0
    write_artifact(art, seed=1)  # another artifact at the same path
    assert main(["reproduce", "--from", str(out)]) == 2
    assert "manifest sha256 differs" in capsys.readouterr().err


def test_reports_without_provenance_or_not_json(capsys, tmp_path):
    bad = tmp_path / "b.json"
    bad.write_text("[1, 2]")
    assert main(["reproduce", "--from", str(bad)]) == 2
    bad.write_text(json.dumps({"totals": {}}))
    assert main(["reproduce", "--from", str(bad)]) == 2
    assert main(["reproduce", "--from", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 3 and "no provenance" in err
