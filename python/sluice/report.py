"""Reporting a sweep trial's metrics: ``sluice.report(step=..., **metrics)``."""

import json
import os
import time

from ._http import Transport
from .errors import ConnectionFailed, NotInTrial, ServerError


class ReportResult:
    """What the server said to a report: ``stop`` is True once the sweep has
    stopped this trial early (its process is about to get SIGTERM), with the
    ``reason``."""

    def __init__(self, stop=False, reason=""):
        self.stop = bool(stop)
        self.reason = reason or ""

    def __bool__(self):
        return True

    def __repr__(self):
        return "ReportResult(stop=%r, reason=%r)" % (self.stop, self.reason)


def in_trial():
    """True inside a sweep's trial (sluice has put a report token in the environment)."""
    return bool(os.environ.get("SLUICE_REPORT_TOKEN"))


def params():
    """This trial's parameters as a dict (from SLUICE_TRIAL_PARAMS), or {} outside a trial."""
    text = os.environ.get("SLUICE_TRIAL_PARAMS")
    return json.loads(text) if text else {}


def _transport():
    token = os.environ.get("SLUICE_REPORT_TOKEN")
    if not token:
        raise NotInTrial(
            "sluice.report() runs inside a sweep's trial, where sluice sets SLUICE_REPORT_TOKEN")
    sock = os.environ.get("SLUICE_REPORT_SOCKET")
    if sock and os.path.exists(sock):
        return Transport("unix:" + sock, token=token, timeout=10.0)
    url = os.environ.get("SLUICE_REPORT_URL")
    if url:
        return Transport(url, token=token, timeout=10.0)
    raise NotInTrial("no SLUICE_REPORT_SOCKET or SLUICE_REPORT_URL to report to")


def report(step, **metrics):
    """Reports this trial's metrics at ``step``: ``sluice.report(step=3, val_loss=0.42)``.

    The sweep's objective is one of the metrics; the others are kept and shown.
    Returns a ReportResult whose ``stop`` says the sweep stopped the trial early.
    Retries a few times while the server cannot be reached (it may be restarting).
    """
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise ValueError("step: expected a whole number >= 0, got %r" % (step,))
    if not metrics:
        raise ValueError("give at least one metric, e.g. report(step=1, val_loss=0.5)")
    body = {"step": step, "metrics": {}}
    for k, v in metrics.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            try:
                v = float(v)  # numpy scalars, tensors with __float__
            except (TypeError, ValueError):
                raise ValueError("%s: expected a number, got %r" % (k, v)) from None
        body["metrics"][k] = float(v)
    t = _transport()
    delay = 0.1
    for attempt in range(6):
        try:
            answer = t.call("POST", "/api/v1/report", body) or {}
            return ReportResult(answer.get("stop", False), answer.get("reason", ""))
        except (ConnectionFailed, ServerError):
            if attempt == 5:
                raise
            time.sleep(delay)
            delay *= 2
    return ReportResult()
