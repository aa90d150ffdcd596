"""A real `sluice server` for the Python client's tests.

The server binary is SLUICE_BINARY (ctest sets it) or build/sluice of this
checkout; it runs on a fresh data directory with simulated GPUs, the local
executor, a kernel-chosen port and a Unix socket, and is stopped (with
every pod it started) after the test module.
"""
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))


class Server:
    def __init__(self, tmp):
        self.dir = pathlib.Path(tmp)
        self.data = self.dir / "data"
        self.socket = str(self.dir / "sluice.sock")
        self.log_path = self.dir / "server.log"
        self.binary = os.environ.get("SLUICE_BINARY") or str(ROOT / "build" / "sluice")
        self.proc = None
        self.port = None

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "server", "--data-dir", str(self.data), "--listen", "127.0.0.1:0",
             "--socket", self.socket, "--gpus", "sim:2xH100-80GB", "--grace-period", "2"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 20
        while time.time() < deadline:
            m = re.findall(r"listening on http://127\.0\.0\.1:(\d+)", self.log())
            if m:
                self.port = int(m[-1])
                try:
                    with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                        if r.status == 200:
                            return
                except OSError:
                    pass
            if self.proc.poll() is not None:
                raise RuntimeError("the server exited:\n" + self.log())
            time.sleep(0.02)
        raise RuntimeError("the server did not answer within 20 s:\n" + self.log())

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def admin_token(self):
        return (self.data / "admin-token").read_text().strip()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # Pods outlive the server by design; the test's must not outlive the test.
        marker = str(self.data / "pods") + "/"
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmdline = f.read().decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline:
                for target in (-int(pid), int(pid)):
                    try:
                        os.kill(target, signal.SIGKILL)
                    except OSError:
                        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("sluice-server"))
    s.start()
    yield s
    s.stop()


@pytest.fixture
def admin(server):
    import sluice

    return sluice.Client(server=server.url, token=server.admin_token)


def wait_for(predicate, timeout=30.0, what="the condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)
