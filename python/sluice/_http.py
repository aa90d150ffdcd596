"""HTTP/1.1 to the sluice server over TCP or its Unix socket (standard library only)."""

import http.client
import json
import os
import socket
import urllib.parse

from .errors import ConnectionFailed, error_for


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self._path)
        except OSError:
            s.close()
            raise
        self.sock = s


def default_socket():
    """Where the CLI looks for a local server: SLUICE_SOCKET, this user's socket, the system's."""
    env = os.environ.get("SLUICE_SOCKET")
    if env:
        return env
    if os.geteuid() == 0:
        own = "/run/sluice.sock"
    elif os.environ.get("XDG_RUNTIME_DIR"):
        own = os.path.join(os.environ["XDG_RUNTIME_DIR"], "sluice.sock")
    else:
        own = "/tmp/sluice-%d.sock" % os.geteuid()
    return own if os.path.exists(own) else "/run/sluice.sock"


class Transport:
    """One server address: ``http://HOST:PORT`` or ``unix:/path/to.sock``."""

    def __init__(self, server, token=None, timeout=30.0):
        self.token = token or None
        self.timeout = timeout
        if server.startswith("unix:"):
            self.socket_path = server[len("unix:"):]
            self.host = None
        else:
            u = urllib.parse.urlsplit(server if "://" in server else "http://" + server)
            if u.scheme != "http":
                raise ConnectionFailed("server: expected http://HOST:PORT or unix:PATH, got %r" % server)
            self.socket_path = None
            self.host = u.hostname
            self.port = u.port or 80
        self.where = server

    def _connection(self):
        if self.socket_path is not None:
            return _UnixConnection(self.socket_path, self.timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def call(self, method, path, body=None, raw=False):
        """The decoded JSON answer (or the text with raw=True); raises a SluiceError."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        conn = self._connection()
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            text = resp.read().decode("utf-8", "replace")
            status = resp.status
        except (OSError, http.client.HTTPException) as e:
            raise ConnectionFailed("cannot reach the sluice server at %s: %s" % (self.where, e)) from None
        finally:
            conn.close()
        if status >= 400:
            message = text.strip()
            try:
                message = json.loads(text)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                pass
            raise error_for(status, message)
        if raw:
            return text
        return json.loads(text) if text.strip() else None
