"""``sluice.Client``: the sluice server's API from Python."""

import os
import urllib.parse

from ._http import Transport, default_socket


def _q(s):
    return urllib.parse.quote(str(s), safe="")


class Client:
    """A client of one sluice server.

    ``server`` is ``http://HOST:PORT`` (with a ``token``) or ``unix:/path``;
    by default SLUICE_SERVER and SLUICE_TOKEN, else the local Unix socket,
    where the caller is known by uid. ``project`` is the default project of
    the calls that take one.
    """

    def __init__(self, server=None, token=None, project=None, timeout=30.0):
        server = server or os.environ.get("SLUICE_SERVER") or ("unix:" + default_socket())
        token = token if token is not None else os.environ.get("SLUICE_TOKEN")
        self._t = Transport(server, token=token, timeout=timeout)
        self.project = project

    def _project(self, project):
        p = project or self.project
        if not p:
            raise ValueError("project: give project=... here or to Client(project=...)")
        return p

    # ---- workloads ----

    def submit(self, name, command, project=None, gpu=None, **spec):
        """Submits a workload; returns it as the server shows it.

        ``command`` is a list of strings; ``spec`` takes the API's other
        fields (cpu, memory, pods, env, priorityClass, workingDir, ...), and
        snake_case works too (priority_class=...).
        """
        if isinstance(command, str):
            raise TypeError("command: expected a list of strings such as ['python', 'train.py']")
        body = {"name": name, "command": list(command)}
        if gpu is not None:
            body["gpu"] = gpu
        body.setdefault("workingDir", os.getcwd())
        for k, v in spec.items():
            parts = k.split("_")
            body[parts[0] + "".join(p.title() for p in parts[1:])] = v
        return self._t.call("POST", "/api/v1/projects/%s/workloads" % _q(self._project(project)), body)

    def get(self, name, project=None):
        """One workload, with its status."""
        return self._t.call("GET", "/api/v1/projects/%s/workloads/%s" % (_q(self._project(project)), _q(name)))

    def list(self, project=None, active=False):
        """Workloads (of ``project``, else of every project you can see); ``active``: only pending and running."""
        p = project or self.project
        query = []
        if p:
            query.append("project=" + _q(p))
        if active:
            query.append("active=true")
        path = "/api/v1/workloads" + ("?" + "&".join(query) if query else "")
        return self._t.call("GET", path)["items"]

    def logs(self, name, project=None, pod=0):
        """The output of pod ``pod`` of a workload, as text."""
        return self._t.call(
            "GET",
            "/api/v1/projects/%s/workloads/%s/logs?pod=%d" % (_q(self._project(project)), _q(name), pod),
            raw=True)

    def delete(self, name, project=None):
        """Deletes a workload (a running one is stopped first)."""
        return self._t.call("DELETE", "/api/v1/projects/%s/workloads/%s" % (_q(self._project(project)), _q(name)))

    # ---- sweeps ----

    def submit_sweep(self, spec, project=None):
        """Submits a sweep from its spec (a dict, as the YAML of docs/sweeps.md)."""
        p = project or spec.get("project") or self.project
        return self._t.call("POST", "/api/v1/projects/%s/sweeps" % _q(self._project(p)), spec)

    def sweep(self, name, project=None):
        """A sweep with its trials and its best trial."""
        return self._t.call("GET", "/api/v1/projects/%s/sweeps/%s" % (_q(self._project(project)), _q(name)))

    def sweeps(self, project=None):
        p = project or self.project
        return self._t.call("GET", "/api/v1/sweeps" + ("?project=" + _q(p) if p else ""))["items"]

    def stop_sweep(self, name, project=None):
        return self._t.call("POST", "/api/v1/projects/%s/sweeps/%s/stop" % (_q(self._project(project)), _q(name)))

    def resume_sweep(self, name, project=None):
        return self._t.call("POST", "/api/v1/projects/%s/sweeps/%s/resume" % (_q(self._project(project)), _q(name)))

    # ---- the rest ----

    def whoami(self):
        return self._t.call("GET", "/api/v1/whoami")

    def call(self, method, path, body=None):
        """Any API call: ``c.call("GET", "/api/v1/queues")``."""
        return self._t.call(method, path, body)
