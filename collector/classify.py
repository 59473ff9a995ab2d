"""Exception classification: which error class a failed backend call belongs to.

The class decides retries (only ``transient`` is retried; ``auth`` never) and feeds
the job-level alerts. Providers differ, so we look at, in order: an explicit
``qsre_error_class`` attribute (simulators and adapters can set it), the exception
type's name along its MRO (Qiskit, qiskit-ibm-runtime, httpx/requests), and finally
HTTP status codes or tell-tale phrases in the message.
"""

from __future__ import annotations

import re

from collector.schema import ERROR_CLASSES

_NAME_RULES: tuple[tuple[str, str], ...] = (
    # qiskit-ibm-runtime
    ("IBMNotAuthorizedError", "auth"),
    ("IBMInputValueError", "invalid_input"),
    ("RuntimeJobTimeoutError", "timeout"),
    ("RuntimeJobMaxTimeoutError", "timeout"),
    ("RuntimeJobFailureError", "backend"),
    ("RuntimeInvalidStateError", "backend"),
    # qiskit
    ("JobTimeoutError", "timeout"),
    ("CircuitError", "invalid_input"),
    ("TranspilerError", "invalid_input"),
    # generic / network stacks (httpx, requests, urllib3, stdlib)
    ("AuthenticationError", "auth"),
    ("NotAuthorized", "auth"),
    ("Unauthorized", "auth"),
    ("PermissionError", "auth"),
    ("ConnectTimeout", "transient"),
    ("ReadTimeout", "transient"),
    ("ConnectError", "transient"),
    ("RemoteProtocolError", "transient"),
    ("TransportError", "transient"),
    ("ConnectionError", "transient"),
    ("TimeoutError", "transient"),
    ("ChunkedEncodingError", "transient"),
    ("QuotaExceeded", "quota"),
)

_STATUS_RE = re.compile(r"\b(400|401|402|403|404|408|409|422|429|500|502|503|504)\b")
_STATUS_CLASS = {
    "401": "auth",
    "403": "auth",
    "402": "quota",
    "400": "invalid_input",
    "422": "invalid_input",
    "404": "backend",
    "409": "backend",
    "408": "transient",
    "429": "transient",
    "500": "transient",
    "502": "transient",
    "503": "transient",
    "504": "transient",
}
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"unauthori[sz]ed|invalid (api )?token|expired token|authenticat", re.I), "auth"),
    (
        re.compile(r"quota|usage limit|rate limit exceeded for plan|insufficient credit", re.I),
        "quota",
    ),
    (
        re.compile(r"temporar|unavailable|try again|connection (reset|refused|aborted)", re.I),
        "transient",
    ),
    (re.compile(r"timed? ?out", re.I), "timeout"),
    (re.compile(r"invalid|malformed|not supported|exceeds the maximum", re.I), "invalid_input"),
)


def classify_exception(exc: BaseException) -> str:
    """One of ``collector.schema.ERROR_CLASSES`` for an exception from a backend call."""
    explicit = getattr(exc, "qsre_error_class", None)
    if isinstance(explicit, str) and explicit in ERROR_CLASSES:
        return explicit
    for klass in type(exc).__mro__:
        for name, error_class in _NAME_RULES:
            if name in klass.__name__:
                return error_class
    message = str(exc)
    status = getattr(exc, "status_code", None) or getattr(
        getattr(exc, "response", None), "status_code", None
    )
    if status is not None and str(status) in _STATUS_CLASS:
        return _STATUS_CLASS[str(status)]
    match = _STATUS_RE.search(message)
    if match:
        return _STATUS_CLASS[match.group(1)]
    for pattern, error_class in _PHRASES:
        if pattern.search(message):
            return error_class
    if type(exc).__name__ in ("JobError", "QiskitError", "AerError"):
        return "backend"
    return "unknown"
