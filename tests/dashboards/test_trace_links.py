"""A job's span carries the trace id the dashboards link to (collector.tracing.job_trace_id)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from collector.ids import new_job_id
from collector.tracing import JobSpanEmitter, job_trace_id
from dashboards import DashboardSpecError, SqlSource, build_dashboards


def _snapshot(job_id: str) -> dict:
    return {
        "id": job_id,
        "backend": "aer",
        "status": "error",
        "error_class": "transient",
        "submitted_at": datetime(2026, 11, 17, 9, 0, tzinfo=UTC),
        "finished_at": datetime(2026, 11, 17, 9, 0, 2, tzinfo=UTC),
    }


def test_job_span_trace_id_is_the_job_trace_id():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    emitter = JobSpanEmitter(provider)
    ids = [new_job_id(), new_job_id()]
    tracer = provider.get_tracer("user")
    # Even inside a user's span on this thread, the job span is a root of its own trace.
    with trace.use_span(tracer.start_span("user-work"), end_on_exit=True):
        assert all(emitter.emit(_snapshot(i)) for i in ids)
    spans = [s for s in exporter.get_finished_spans() if s.name == "qsre.job"]
    assert [format(s.context.trace_id, "032x") for s in spans] == [job_trace_id(i) for i in ids]
    assert all(s.parent is None for s in spans)
    # Other spans of the provider keep random trace ids.
    user = next(s for s in exporter.get_finished_spans() if s.name == "user-work")
    assert format(user.context.trace_id, "032x") not in {job_trace_id(i) for i in ids}


def test_job_trace_id_shape():
    job_id = new_job_id()
    assert job_trace_id(job_id) == job_id.replace("-", "")
    assert len(job_trace_id("braket-arn:xyz")) == 32
    assert job_trace_id("braket-arn:xyz") == job_trace_id("braket-arn:xyz")
    assert job_trace_id("0" * 32) != "0" * 32  # the all-zero trace id is invalid


def test_trace_column_links_to_the_template():
    dashboards_with = build_dashboards(
        [],
        postgres_datasource_uid="store-pg",
        trace_url_template="https://jaeger.example/trace/{trace_id}",
    )
    linked = []
    for name in ("oncall.json", "debug.json"):
        for panel in dashboards_with[name]["panels"]:
            sql = " ".join(t.get("rawSql", "") for t in panel.get("targets", []))
            if "trace_id" not in sql:
                continue
            (link,) = panel["fieldConfig"]["defaults"]["links"]
            assert link["url"] == "https://jaeger.example/trace/${__data.fields.trace_id}"
            assert link["targetBlank"] is True
            linked.append(panel["title"])
    assert linked == ["Failing jobs", "Problem jobs (failed, retried, slower than p95)"]
    # Without a template the trace_id column is shown, unlinked.
    plain = build_dashboards([], postgres_datasource_uid="store-pg")["oncall.json"]
    panel = next(p for p in plain["panels"] if p.get("title") == "Failing jobs")
    assert "links" not in panel["fieldConfig"]["defaults"]
    with pytest.raises(DashboardSpecError, match="trace_url_template"):
        SqlSource("store-pg", "https://jaeger.example/trace/")


def test_config_fields(tmp_path):
    import yaml

    from qsre.config import EMBEDDED_DEFAULT, load_config
    from qsre.errors import ConfigError

    data = yaml.safe_load(EMBEDDED_DEFAULT.read_text())
    data["links"]["trace_url_template"] = "https://tempo.example/trace/{trace_id}"
    data["dashboards"]["postgres_datasource_uid"] = "qsre-store"
    path = tmp_path / "qsre.yaml"
    path.write_text(yaml.safe_dump(data))
    cfg = load_config(path).file
    assert cfg.links.trace_url_template == "https://tempo.example/trace/{trace_id}"
    assert cfg.dashboards.postgres_datasource_uid == "qsre-store"
    data["links"]["trace_url_template"] = "https://tempo.example/trace/"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="trace_url_template"):
        load_config(path)
