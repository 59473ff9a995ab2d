"""The runbook catalogue: which Markdown runbook answers which alert kind.

Each runbook is `runbooks/<kind>.md` with YAML front matter (kind, title, alertname,
severity, dashboards) followed by the Markdown body. The front matter is the index;
`runbooks/index.md` is generated from it (`index_markdown()`) for people browsing
the repository. This package imports nothing else from qsre: alerts, the CLI and the
dashboards all depend on it, never the reverse.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from rich.markdown import Markdown

RUNBOOK_DIR = Path(__file__).resolve().parent

# Alert kinds (the `kind` label on every alert qsre raises), in catalogue order.
RUNBOOK_KINDS: tuple[str, ...] = (
    "slo_burn_page",
    "slo_burn_ticket",
    "auth_failure",
    "result_corruption",
    "quota_breach",
    "calibration_drift",
    "simulator_divergence",
    "queue_overload",
    "network_blips",
    "billing_spike",
    "backend_down",
    "resource_exhaustion",
    "notifications_failing",
    "evaluation_stalled",
)

# The failure modes qsre is built to catch, numbered F1..F8 in this order (the numbers
# code comments, the docs and the `qsre demo` scorecard use). Each one is an alert kind.
FAILURE_MODES: tuple[str, ...] = (
    "queue_overload",
    "calibration_drift",
    "network_blips",
    "auth_failure",
    "simulator_divergence",
    "billing_spike",
    "result_corruption",
    "resource_exhaustion",
)


def failure_mode_id(kind: str) -> str | None:
    """``"F1"``..``"F8"`` for a failure-mode alert kind; None for any other kind."""
    return f"F{FAILURE_MODES.index(kind) + 1}" if kind in FAILURE_MODES else None


# Every runbook has these sections (as "## <name>" headings), in this order.
REQUIRED_SECTIONS: tuple[str, ...] = (
    "Symptoms",
    "What to look at",
    "Diagnose",
    "Mitigate",
    "Escalate",
    "Verify recovery",
)

_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.S)


class RunbookError(Exception):
    """Base class for the runbooks package's errors."""


class UnknownRunbook(RunbookError, KeyError):
    """No runbook exists for the requested alert kind."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(
            f"runbook: expected an alert kind ({', '.join(RUNBOOK_KINDS)}) or its alert name"
            f" (e.g. QsreCalibrationDrift), got {kind!r}"
        )

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class InvalidRunbook(RunbookError, ValueError):
    """A runbook file or a runbook URL setting is malformed."""

    def __init__(self, where: str, field: str, value: object, expected: str) -> None:
        super().__init__(f"{where}: invalid {field}={value!r}: expected {expected}")


@dataclass(frozen=True)
class Runbook:
    """One runbook: the alert kind it answers, its title, file and Markdown body."""

    kind: str
    title: str
    path: Path
    markdown: str
    alertname: str = ""
    severity: str = ""
    dashboards: tuple[str, ...] = ()

    @property
    def file_name(self) -> str:
        return self.path.name

    def sections(self) -> tuple[str, ...]:
        """The level-2 headings of the body, in order."""
        return tuple(m.group(1).strip() for m in re.finditer(r"^## (.+)$", self.markdown, re.M))


def _parse(kind: str, path: Path) -> Runbook:
    text = path.read_text(encoding="utf-8")
    m = _FRONT_MATTER.match(text)
    if not m:
        raise InvalidRunbook(str(path), "front matter", text[:40], "a leading '---' YAML block")
    meta = yaml.safe_load(m.group(1)) or {}
    if meta.get("kind") != kind:
        raise InvalidRunbook(str(path), "kind", meta.get("kind"), f"{kind!r} (the file name)")
    title = meta.get("title")
    if not isinstance(title, str) or not title:
        raise InvalidRunbook(str(path), "title", title, "a non-empty string")
    return Runbook(
        kind=kind,
        title=title,
        path=path,
        markdown=text[m.end() :].lstrip("\n"),
        alertname=str(meta.get("alertname", "")),
        severity=str(meta.get("severity", "")),
        dashboards=tuple(meta.get("dashboards") or ()),
    )


@functools.cache
def runbook_for(kind: str) -> Runbook:
    """The runbook for an alert kind; UnknownRunbook (naming the known kinds) otherwise."""
    if kind not in RUNBOOK_KINDS:
        raise UnknownRunbook(kind)
    return _parse(kind, RUNBOOK_DIR / f"{kind}.md")


def find_runbook(name: str) -> Runbook:
    """The runbook for an alert kind (``calibration_drift``) or alert name
    (``QsreCalibrationDrift``, case-insensitive): notifications show the alert name, so
    an on-call engineer must be able to paste it. UnknownRunbook otherwise."""
    if name in RUNBOOK_KINDS:
        return runbook_for(name)
    by_alertname = {b.alertname.lower(): b for b in all_runbooks() if b.alertname}
    found = by_alertname.get(name.strip().lower())
    if found is None:
        raise UnknownRunbook(name)
    return found


def all_runbooks() -> tuple[Runbook, ...]:
    """Every runbook, in catalogue order."""
    return tuple(runbook_for(kind) for kind in RUNBOOK_KINDS)


def installed_runbook_base() -> str:
    """The ``file://`` URI of the directory holding the installed runbook files (with a
    trailing slash): where runbook links point when no base URL is configured."""
    return RUNBOOK_DIR.as_uri() + "/"


def runbook_base(base_url: str | None) -> str:
    """The base URL runbook links are built on: ``base_url`` (the deployment's
    ``links.runbook_base_url``, checked) or, when it is empty or None, the installed
    runbook directory, so that links work offline and with no configuration.

    A set ``base_url`` must be an http(s) or file URL without query or fragment;
    InvalidRunbook otherwise."""
    if not base_url:
        return installed_runbook_base()
    parts = urlsplit(base_url)
    if (
        parts.scheme not in ("http", "https", "file")
        or (parts.scheme != "file" and not parts.netloc)
        or parts.query
        or parts.fragment
    ):
        raise InvalidRunbook(
            "runbook base URL",
            "base_url",
            base_url,
            "an http(s) or file URL without query or fragment (or empty: the installed files)",
        )
    return base_url.rstrip("/") + "/"


def runbook_url(kind: str, base_url: str | None = None) -> str:
    """Where the runbook for `kind` is: ``runbook_base(base_url)`` joined with `<kind>.md`.

    `base_url` is the deployment's setting (e.g.
    https://github.com/org/qsre/blob/main/runbooks/; a missing trailing slash is added);
    empty or None gives the installed file, e.g.
    file:///.../site-packages/runbooks/queue_overload.md (`qsre runbook show KIND`
    prints the same text).
    """
    runbook = runbook_for(kind)
    return runbook_base(base_url) + runbook.file_name


def render(kind: str) -> Markdown:
    """A rich renderable of the runbook body (for `qsre runbook show KIND`)."""
    runbook = runbook_for(kind)
    return Markdown(runbook.markdown)


def index_markdown() -> str:
    """The Markdown index of all runbooks (what runbooks/index.md contains)."""
    lines = [
        "# qsre runbooks",
        "",
        "Generated from each runbook's front matter by `runbooks.catalog.index_markdown()`.",
        "Every alert qsre raises carries a `kind` label; this table maps it to its runbook.",
        "",
        "| Alert kind | Alertname | Severity | Runbook |",
        "|---|---|---|---|",
    ]
    for rb in all_runbooks():
        lines.append(
            f"| `{rb.kind}` | {rb.alertname} | {rb.severity} | [{rb.title}]({rb.file_name}) |"
        )
    return "\n".join(lines) + "\n"
