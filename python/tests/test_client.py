"""sluice.Client against a real server: submit, list, logs, delete, typed errors."""
import os
import shutil
import socket
import subprocess
import sys

import pytest

import sluice
from conftest import ROOT, wait_for


@pytest.fixture(scope="module", autouse=True)
def project(server):
    c = sluice.Client(server=server.url, token=server.admin_token)
    c.call("POST", "/api/v1/projects", {"name": "py", "gpu": {"quota": 2}})
    return "py"


def test_submit_list_logs_delete(admin):
    w = admin.submit("hello", ["sh", "-c", "echo hello from $SLUICE_WORKLOAD"], project="py",
                     gpu=0.5, max_retries=0)
    assert w["name"] == "hello"
    assert w["spec"]["gpu"] == 0.5
    assert w["spec"]["maxRetries"] == 0
    assert any(x["name"] == "hello" for x in admin.list(project="py"))
    done = wait_for(lambda: admin.get("hello", project="py")["status"]["phase"] == "Succeeded",
                    what="the workload to succeed")
    assert done
    assert "hello from hello" in admin.logs("hello", project="py")
    assert all(x["name"] != "hello" for x in admin.list(project="py", active=True))
    admin.delete("hello", project="py")
    with pytest.raises(sluice.NotFound):
        admin.get("hello", project="py")


def test_default_project(server):
    c = sluice.Client(server=server.url, token=server.admin_token, project="py")
    c.submit("sleeper", ["sleep", "3600"])
    assert c.get("sleeper")["project"] == "py"
    c.delete("sleeper")
    wait_for(lambda: all(x["name"] != "sleeper" for x in c.list()), what="the deletion")
    with pytest.raises(ValueError):
        sluice.Client(server=server.url, token=server.admin_token).get("x")


def test_typed_errors(admin, server):
    with pytest.raises(sluice.NotFound) as e:
        admin.submit("x", ["true"], project="no-such-project")
    assert e.value.status == 404
    assert "no-such-project" in e.value.message
    with pytest.raises(sluice.InvalidRequest) as e:
        admin.submit("bad", ["true"], project="py", gpu="lots", pods=0)
    assert e.value.status == 400
    assert any(p.startswith("body.gpu:") for p in e.value.problems), e.value.problems
    assert any(p.startswith("body.pods:") for p in e.value.problems), e.value.problems
    admin.submit("twice", ["sleep", "3600"], project="py")
    with pytest.raises(sluice.Conflict):
        admin.submit("twice", ["sleep", "3600"], project="py")
    admin.delete("twice", project="py")
    with pytest.raises(sluice.Unauthorized):
        sluice.Client(server=server.url, token="slc_not-a-token").list()
    bob = admin.call("POST", "/api/v1/tokens", {"user": "bob"})["token"]
    with pytest.raises(sluice.Forbidden):
        sluice.Client(server=server.url, token=bob).submit("x", ["true"], project="py")
    # Every typed error is a SluiceError.
    assert issubclass(sluice.Forbidden, sluice.SluiceError)
    with pytest.raises(TypeError):
        admin.submit("x", "python train.py", project="py")


def test_connection_failed():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(sluice.ConnectionFailed):
        sluice.Client(server="http://127.0.0.1:%d" % port, token="t").list()
    with pytest.raises(sluice.ConnectionFailed):
        sluice.Client(server="unix:/nonexistent/sluice.sock").list()


def test_over_the_unix_socket(server):
    # The socket knows the caller by uid: the server's own user is an admin.
    me = sluice.Client(server="unix:" + server.socket, token="").whoami()
    assert me["admin"] is True


def test_pip_installable(tmp_path):
    # From a copy: building in place would leave build/ and *.egg-info in the tree.
    src = tmp_path / "src"
    shutil.copytree(ROOT / "python", src,
                    ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation",
                        "--no-deps", "--target", str(target), str(src)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-c", "import sluice, sys; print(sluice.__file__)"],
                       capture_output=True, text=True, cwd=str(tmp_path),
                       env={**os.environ, "PYTHONPATH": str(target)})
    assert r.returncode == 0, r.stderr
    assert str(target) in r.stdout
