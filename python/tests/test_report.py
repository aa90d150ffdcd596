"""sluice.report() from inside real sweep trials, and `sluice report`."""
import os
import sys

import pytest

import sluice
from conftest import ROOT, wait_for

TRIAL = r"""
import os, sys
import sluice
p = sluice.params()
x = p["x"]
# The report token can do nothing else.
try:
    sluice.Client(token=os.environ["SLUICE_REPORT_TOKEN"],
                  server="unix:" + os.environ["SLUICE_REPORT_SOCKET"]).list()
    print("token-could-list")
except sluice.Forbidden as e:
    print("token-forbidden")
for step in range(1, 4):
    if step == 3:
        # Over HTTP too: without the socket, report() uses SLUICE_REPORT_URL.
        os.environ.pop("SLUICE_REPORT_SOCKET")
    r = sluice.report(step=step, score=x * step, loss=1.0 / step)
    assert r.stop is False, r
print("reported", x)
"""


@pytest.fixture(scope="module", autouse=True)
def project(server):
    c = sluice.Client(server=server.url, token=server.admin_token)
    c.call("POST", "/api/v1/projects", {"name": "trials", "gpu": {"quota": 2}})


def test_report_outside_a_trial(monkeypatch):
    monkeypatch.delenv("SLUICE_REPORT_TOKEN", raising=False)
    assert not sluice.in_trial()
    with pytest.raises(sluice.NotInTrial):
        sluice.report(step=1, loss=0.5)
    with pytest.raises(ValueError):
        sluice.report(step=-1, loss=0.5)
    with pytest.raises(ValueError):
        sluice.report(step=1)
    assert sluice.params() == {} or "SLUICE_TRIAL_PARAMS" in os.environ


def test_trials_report_with_their_own_token(admin, server):
    script = server.dir / "trial.py"
    script.write_text(TRIAL)
    spec = {
        "name": "grid",
        "method": "grid",
        "metric": {"name": "score", "goal": "maximize"},
        "parameters": {"x": {"values": [1, 2, 3]}},
        "budget": {"maxTrials": 10, "parallelism": 2},
        "trial": {"command": [sys.executable, str(script)], "gpu": 0.5,
                  "env": {"PYTHONPATH": str(ROOT / "python")}},
    }
    s = admin.submit_sweep(spec, project="trials")
    assert s["state"] == "Running"
    done = wait_for(lambda: admin.sweep("grid", project="trials")["state"] != "Running",
                    timeout=60, what="the sweep to end")
    assert done
    s = admin.sweep("grid", project="trials")
    assert s["state"] == "Succeeded", s
    # The grid has 3 points, fewer than maxTrials: it ends after them.
    assert len(s["trials"]) == 3
    assert sorted(t["parameters"]["x"] for t in s["trials"]) == [1, 2, 3]
    for t in s["trials"]:
        assert t["state"] == "Succeeded"
        assert t["steps"] == 3
        assert t["best"] == t["parameters"]["x"] * 3
        log = admin.logs(t["workload"], project="trials")
        assert "token-forbidden" in log, log
        assert "reported" in log, log
    assert s["best"]["parameters"] == {"x": 3}
    assert s["best"]["value"] == 9
    assert s["status"]["peakInFlight"] <= 2
    assert [x["name"] for x in admin.sweeps(project="trials")] == ["grid"]


def test_the_cli_reports_too(admin, server):
    spec = {
        "name": "shell",
        "method": "random",
        "seed": 3,
        "metric": {"name": "loss"},
        "parameters": {"n": {"distribution": "int", "min": 1, "max": 5}},
        "budget": {"maxTrials": 2, "parallelism": 2},
        "trial": {"command": ["sh", "-c", server.binary + " report --step 1 loss=${n} && " +
                              server.binary + " report --step 2 loss=0.5"]},
    }
    admin.submit_sweep(spec, project="trials")
    wait_for(lambda: admin.sweep("shell", project="trials")["state"] != "Running", timeout=60,
             what="the sweep to end")
    s = admin.sweep("shell", project="trials")
    assert s["state"] == "Succeeded", s
    for t in s["trials"]:
        assert t["steps"] == 2
        assert t["best"] == 0.5
        assert t["history"][0]["metrics"]["loss"] == t["parameters"]["n"]


def test_stop_and_resume(admin, server):
    spec = {
        "name": "pausable",
        "metric": {"name": "loss"},
        "parameters": {"x": {"distribution": "uniform", "min": 0, "max": 1}},
        "budget": {"maxTrials": 4, "parallelism": 2},
        "trial": {"command": ["sleep", "3600"], "gpu": 0.25, "gracePeriod": "1s"},
    }
    admin.submit_sweep(spec, project="trials")
    wait_for(lambda: sum(t["state"] == "Running" for t in admin.sweep("pausable", project="trials")["trials"]) == 2,
             what="two running trials")
    stopped = admin.stop_sweep("pausable", project="trials")
    assert stopped["state"] == "Stopped"
    s = admin.sweep("pausable", project="trials")
    assert [t["state"] for t in s["trials"]] == ["Stopped", "Stopped"]
    wait_for(lambda: not [w for w in admin.list(project="trials", active=True)
                          if w["name"].startswith("pausable")], what="the trials to stop")
    with pytest.raises(sluice.Conflict):
        admin.stop_sweep("pausable", project="trials")
    params = {t["index"]: t["parameters"] for t in s["trials"]}
    admin.resume_sweep("pausable", project="trials")
    s = wait_for(lambda: (lambda s: s if sum(t["state"] == "Running" for t in s["trials"]) == 2 else None)(
        admin.sweep("pausable", project="trials")), what="the trials to run again")
    for t in s["trials"]:
        assert t["parameters"] == params[t["index"]]
        assert t["attempts"] == 2
        assert t["workload"].endswith("-r1")
    admin.stop_sweep("pausable", project="trials")
    admin.call("DELETE", "/api/v1/projects/trials/sweeps/pausable")
    with pytest.raises(sluice.NotFound):
        admin.sweep("pausable", project="trials")
