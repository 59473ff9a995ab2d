"""A newcomer's first hour, as the README tells it, at 80 columns.

The commands come from the README itself (its "first hour" block and its wrapping
example), so the README cannot drift from what works: init -> doctor -> wrap and
run a job -> jobs / jobs show -> validate -> slo status -> alerts -> a test
notification -> the weekly report. Each runs the real entry point in a subprocess
with COLUMNS=80, in an empty folder, and is checked for what a user would see:
exit 0, no traceback or warning, nothing wider than the terminal, and the numbers
right. Then a process is killed with SIGKILL before its jobs reach the store, and
`qsre jobs` must say where they are.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.cli_surface.conftest import REPO, Run, qsre

pytestmark = pytest.mark.slow

README = (REPO / "README.md").read_text()
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")


def readme_block(heading: str, lang: str) -> str:
    """The first ``lang`` code block after ``heading``."""
    at = README.index(heading)
    m = re.compile(rf"```{lang}\n(.*?)```", re.S).search(README, at)
    assert m is not None, f"no {lang} block after {heading!r}"
    return m.group(1)


def first_hour_commands() -> list[list[str]]:
    lines = readme_block("## The first hour", "sh").splitlines()
    return [shlex.split(line.split("#", 1)[0]) for line in lines if line.strip()]


def store_fingerprint(folder: Path) -> str:
    return hashlib.sha256((folder / "qsre.db").read_bytes()).hexdigest()


def assert_user_sees_clean(run: Run) -> None:
    everything = run.stdout + run.stderr
    assert run.code == 0, (run.args, everything)
    assert "Traceback" not in everything, everything
    assert "Warning" not in everything, everything
    # Log lines (the console receiver's, timestamp first) are one event per line for
    # grep and the log file; the terminal wraps them. Everything else must fit.
    wide = [line for line in run.stdout.splitlines() if len(line) > 80 and not LOG_LINE.match(line)]
    assert not wide, (run.args, wide)


def table_ids(stdout: str) -> list[str]:
    return [
        line.split("│")[1].strip()
        for line in stdout.splitlines()
        if line.startswith("│") and line.split("│")[1].strip()
    ]


def test_the_first_hour_as_the_readme_tells_it(tmp_path):
    commands = first_hour_commands()
    assert [c[:2] for c in commands] == [
        ["qsre", "init"],
        ["qsre", "doctor"],
        ["python", "wrap.py"],
        ["qsre", "jobs"],
        ["qsre", "jobs"],
        ["qsre", "validate"],
        ["qsre", "slo"],
        ["qsre", "alerts"],
        ["qsre", "alerts"],
        ["qsre", "report"],
    ], "the README's first-hour block changed: update this walk with it"
    wrap = readme_block("## Wrap a backend", "python")
    (tmp_path / "wrap.py").write_text(wrap + "\nprint('PROVIDER', job.job_id())\n")
    this_week = datetime.now(UTC).strftime("%G-W%V")
    seen: dict[str, Run] = {}
    store_before_looking = None
    for argv in commands:
        key = " ".join(argv[:3])
        if argv[0] == "python":
            proc = subprocess.run(
                [sys.executable, *argv[1:]],
                cwd=tmp_path,
                env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "80"},
                capture_output=True,
                text=True,
                timeout=300,
            )
            run = Run(tuple(argv), proc.returncode, proc.stdout, proc.stderr)
        else:
            args = [a for a in argv[1:]]
            if args[:2] == ["jobs", "show"]:
                args[2] = table_ids(seen["qsre jobs"].stdout)[0]
            if args[0] == "report":
                args[args.index("--week") + 1] = this_week
            if args[0] == "slo" and store_before_looking is None:
                store_before_looking = store_fingerprint(tmp_path)
            run = qsre(*args, cwd=tmp_path, timeout=300)
        assert_user_sees_clean(run)
        seen.setdefault(key, run)

    # 1. init wrote a config that doctor passes in full.
    assert (tmp_path / "qsre.yaml").is_file()
    assert "FAIL" not in seen["qsre doctor"].stdout
    # 2-3. the wrapped job is listed under the config's backend name, priced as the
    # README's Pricing says (4000 shots x $0.00035 + $0.30), found by its id.
    provider_id = seen["python wrap.py"].stdout.split("PROVIDER", 1)[1].split()[0]
    listing = seen["qsre jobs"].stdout
    assert "local-aer" in listing and "1.70" in listing, listing
    shown = seen["qsre jobs show"].stdout
    assert provider_id in shown and "1.70" in shown, shown
    # 4. the reference suite ran and was judged.
    assert "local-aer: OK" in seen["qsre validate --backend"].stdout
    # 5. every configured SLO in at most two table lines, and where numbers come from.
    status = seen["qsre slo status"].stdout
    rows = [line for line in status.splitlines() if line.startswith("│")]
    assert 0 < len(rows) <= 2 * 7, status
    assert "computed from the store" in status
    assert "no active alerts" in seen["qsre alerts"].stdout
    assert "console: firing accepted" in seen["qsre alerts test"].stdout
    # 6. the report is written where asked, with its summary.
    assert (tmp_path / "reports" / "report.html").is_file()
    assert (tmp_path / "reports" / "report.md").read_text().strip()
    # Looking wrote nothing.
    assert store_fingerprint(tmp_path) == store_before_looking


KILLED_CHILD = textwrap.dedent(
    """
    import time
    from qiskit import QuantumCircuit
    from qiskit_aer import AerSimulator
    from collector import ExecutionProxy, Store
    from collector.recorder import SpoolRecorder

    store = Store("sqlite:///qsre.db")
    # The shipper waits an hour: the jobs stay in the spool until the kill.
    recorder = SpoolRecorder(store, interval_s=3600, max_delay_s=3600)
    proxy = ExecutionProxy(AerSimulator(), store=store, recorder=recorder, name="local-aer")
    qc = QuantumCircuit(1, 1)
    qc.x(0)
    qc.measure(0, 0)
    for _ in range(3):
        job = proxy.run(qc, shots=10)
        job.result()
        print("DONE", job.qsre_job_id, flush=True)
    time.sleep(600)
    """
)


def test_jobs_of_a_killed_process_are_pointed_at(tmp_path):
    assert qsre("init", cwd=tmp_path).code == 0
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_CHILD],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    done = [child.stdout.readline().split()[1] for _ in range(3)]
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)

    listing = qsre("jobs", cwd=tmp_path)
    assert_user_sees_clean(listing)
    assert "no jobs recorded yet" in listing.stdout
    assert "qsre run` adopts them" in " ".join(listing.stdout.split()), listing.stdout
    missing = qsre("jobs", "show", done[0], cwd=tmp_path)
    assert missing.code == 2
    error, hint = missing.stderr.strip().splitlines()
    assert error.startswith("error: job:") and "qsre run` adopts them" in hint

    # What `qsre run` does at start: adopt the dead process's spool.
    from collector.shipper import adopt_orphans
    from collector.store import Store

    adopt_orphans(tmp_path / "qsre.db.spool", Store(f"sqlite:///{tmp_path / 'qsre.db'}"))
    after = qsre("jobs", cwd=tmp_path)
    assert_user_sees_clean(after)
    assert "adopts" not in after.stdout
    assert len(table_ids(after.stdout)) == 3
