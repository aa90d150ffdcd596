"""The errors sluice.Client and sluice.report raise.

Every error is a SluiceError. Those the server answered carry its HTTP
status and its message; a 400 also lists each problem it found (one line
per field: ``body.gpu: expected a number, got "lots"``).
"""


class SluiceError(Exception):
    """Base class: something sluice could not do."""

    status = None

    def __init__(self, message, status=None, problems=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.problems = list(problems or [])


class ConnectionFailed(SluiceError):
    """The server could not be reached (not running, wrong address)."""


class InvalidRequest(SluiceError):
    """400: the request was refused; ``problems`` names each bad field."""

    status = 400


class Unauthorized(SluiceError):
    """401: no credentials, or a token that is not valid."""

    status = 401


class Forbidden(SluiceError):
    """403: not allowed (not a member of the project, a viewer, ...)."""

    status = 403


class NotFound(SluiceError):
    """404: no such project, workload or sweep."""

    status = 404


class Conflict(SluiceError):
    """409: clashes with what exists (a name in use, a state that forbids it)."""

    status = 409


class ServerError(SluiceError):
    """5xx: the server failed; it says why."""


class NotInTrial(SluiceError):
    """sluice.report() was called outside a sweep's trial (no report token)."""


_BY_STATUS = {400: InvalidRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict}


def error_for(status, message):
    """The typed error for an HTTP status and the server's message."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else SluiceError
    problems = message.split("\n") if status == 400 else []
    return cls(message, status=status, problems=problems)
