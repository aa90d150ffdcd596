"""sluice: the Python client of the sluice GPU orchestrator (standard library only).

- ``sluice.report(step=..., **metrics)`` inside a sweep's trial;
- ``sluice.params()``: the trial's parameters;
- ``sluice.Client``: submit, list, logs and delete workloads, and sweeps;
- ``sluice.errors``: the typed errors (NotFound, Forbidden, InvalidRequest, ...).
"""

from . import errors
from .client import Client
from .errors import (
    Conflict,
    ConnectionFailed,
    Forbidden,
    InvalidRequest,
    NotFound,
    NotInTrial,
    ServerError,
    SluiceError,
    Unauthorized,
)
from .report import ReportResult, in_trial, params, report

__version__ = "0.1.0"

__all__ = [
    "Client",
    "Conflict",
    "ConnectionFailed",
    "Forbidden",
    "InvalidRequest",
    "NotFound",
    "NotInTrial",
    "ReportResult",
    "ServerError",
    "SluiceError",
    "Unauthorized",
    "errors",
    "in_trial",
    "params",
    "report",
]
