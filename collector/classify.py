"""Exception classification: which error class a failed backend call belongs to.

The class decides retries (only ``transient`` is retried; ``auth`` never) and feeds
the job-level alerts. Providers differ, so we look at, in order:

1. an explicit ``qsre_error_class`` attribute (simulators and adapters can set it);
2. the provider adapter of each exception along the ``__cause__``/``__context__``
   chain, outermost first (``collector.providers``: a client library's own classes,
   status codes and error codes; clients re-wrap their HTTP errors, so the specific
   one is often a link down);
3. generic rules on each link: the exception type's name along its MRO (Qiskit,
   httpx/requests, stdlib), a quota phrase over an auth status, HTTP status codes,
   then tell-tale phrases in the message;
4. the adapter's fallback for a provider's exception that nothing recognised.
"""

from __future__ import annotations

import re

from collector.providers import GENERIC, adapter_for
from collector.providers.base import exception_chain, http_status_class
from collector.schema import ERROR_CLASSES

_NAME_RULES: tuple[tuple[str, str], ...] = (
    # (provider client libraries' own classes: collector/providers/)
    # qiskit
    ("JobTimeoutError", "timeout"),
    ("CircuitError", "invalid_input"),
    # pydantic (Braket's task and device schemas) and other input validators
    ("ValidationError", "invalid_input"),
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
    ("MemoryError", "resource"),
)

_STATUS_RE = re.compile(r"\b(400|401|402|403|404|408|409|422|429|500|502|503|504)\b")
_QUOTA_RE = re.compile(r"quota|usage limit|rate limit exceeded for plan|insufficient credit", re.I)
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"unauthori[sz]ed|invalid (api )?token|expired token|authenticat", re.I), "auth"),
    (_QUOTA_RE, "quota"),
    (
        re.compile(r"temporar|unavailable|try again|connection (reset|refused|aborted)", re.I),
        "transient",
    ),
    (re.compile(r"timed? ?out", re.I), "timeout"),
    # A simulator without the memory for a circuit: resource exhaustion (F8). Checked
    # before the input rules, since such messages often say the circuit "exceeds" it.
    (re.compile(r"insufficient memory|out of memory|cannot allocate memory", re.I), "resource"),
    (
        re.compile(r"invalid|malformed|not supported|exceeds the maximum", re.I),
        "invalid_input",
    ),
)


def classify_exception(exc: BaseException) -> str:
    """One of ``collector.schema.ERROR_CLASSES`` for an exception from a backend call."""
    explicit = getattr(exc, "qsre_error_class", None)
    if isinstance(explicit, str) and explicit in ERROR_CLASSES:
        return explicit
    chain = list(exception_chain(exc))
    adapters = [adapter_for(link) for link in chain]
    for link, adapter in zip(chain, adapters, strict=True):
        if adapter is not GENERIC:
            error_class = adapter.classify(link)
            if error_class in ERROR_CLASSES:
                return error_class
    for link in chain:
        error_class = _generic_class(link)
        if error_class != "unknown":
            return error_class
    for adapter in adapters:
        if adapter.fallback_error_class in ERROR_CLASSES:
            return adapter.fallback_error_class
    return "unknown"


def _generic_class(exc: BaseException) -> str:
    """The rules that need no provider adapter."""
    for klass in type(exc).__mro__:
        for name, error_class in _NAME_RULES:
            if name in klass.__name__:
                return error_class
    message = str(exc)
    status = getattr(exc, "status_code", None) or getattr(
        getattr(exc, "response", None), "status_code", None
    )
    match = _STATUS_RE.search(message)
    status_class = http_status_class(status) or (
        http_status_class(match.group(1)) if match else None
    )
    # A cap reached is a quota even where the provider answers "forbidden" for it.
    if status_class == "auth" and _QUOTA_RE.search(message):
        return "quota"
    if status_class is not None:
        return status_class
    for pattern, error_class in _PHRASES:
        if pattern.search(message):
            return error_class
    if type(exc).__name__ in ("JobError", "QiskitError", "AerError"):
        return "backend"
    return "unknown"
