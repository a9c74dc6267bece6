"""`healthcheck import`: exposition text, canonical CSV and Parquet into the store, and every
bad file refused with its file and line before anything is written.

The exposition files are written here from a small canonical frame the way cAdvisor,
kube-state-metrics and Sourcegraph expose those values (real metric and label names, raw
scrapes every 30 s, counters that only grow and reset once), so importing them must give the
frame back: gauges exactly at aligned steps, rates within 1 %.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from healthcheck.cli import cli
from healthcheck.errors import SourceError
from healthcheck.sources.files import ImportResult, load_file, parse_step
from healthcheck.sources.files import import_file as _import_file
from healthcheck.store import Store

STEP = pd.Timedelta(minutes=5)
SCRAPE = pd.Timedelta(seconds=30)
STEPS = pd.date_range("2026-07-01 00:05", periods=12, freq="5min", tz="UTC")
HTML_ALERT = "<b>search</b> latency <script>alert(1)</script>"

# (service, pod, container) on Kubernetes; codeintel-db runs a container called pgsql.
PODS = (
    ("frontend", "sourcegraph-frontend-6d9f8b7c4-x2x9k", "frontend"),
    ("gitserver", "gitserver-0", "gitserver"),
    ("codeintel-db", "codeintel-db-0", "pgsql"),
)


def import_file(store: Store, customer: str, path: Path, **options: Any) -> ImportResult:
    """The import as the command runs it: holding the customer's lock."""
    with store.lock(customer):
        return _import_file(store, customer, path, **options)


def canonical() -> pd.DataFrame:
    """A small canonical frame: every metric the exposition mapping covers."""
    rng = np.random.default_rng(7)
    rows: list[dict[str, object]] = []

    def add(metric: str, service: str, instance: str, values: np.ndarray, label: str = "") -> None:
        for stamp, value in zip(STEPS, values, strict=True):
            rows.append(
                {
                    "timestamp": stamp,
                    "metric": metric,
                    "service": service,
                    "instance": instance,
                    "value": float(value),
                    "label": label,
                }
            )

    n = len(STEPS)
    for service, pod, _ in PODS:
        add("cpu_usage_cores", service, pod, np.round(rng.uniform(0.2, 3.0, n), 3))
        add("memory_working_set_bytes", service, pod, np.round(rng.uniform(1e9, 3e9, n)))
        add("memory_limit_bytes", service, pod, np.full(n, 4.0e9))
        add("cpu_limit_cores", service, pod, np.full(n, 2.0))
        add("cpu_throttled_ratio", service, pod, np.round(rng.uniform(0, 0.3, n), 2))
        add("oom_kills", service, pod, (np.arange(n) == 7).astype(float))
    add("disk_capacity_bytes", "gitserver", "gitserver-0", np.full(n, 2e11), "repos")
    add(
        "disk_used_bytes", "gitserver", "gitserver-0", np.linspace(1e11, 1.1e11, n).round(), "repos"
    )
    add(
        "alerts_firing",
        "frontend",
        "",
        (np.arange(n) % 4 == 1).astype(float),
        f"warning/{HTML_ALERT}",
    )
    return pd.DataFrame(rows)


def _label_text(labels: dict[str, str]) -> str:
    escaped = (
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in labels.items()
    )
    return "{" + ",".join(escaped) + "}"


def exposition(frame: pd.DataFrame, *, openmetrics: bool = True, reset: bool = True) -> str:
    """The raw scrapes that would have produced `frame` (30 s apart, 10 per step)."""
    series: dict[str, list[tuple[pd.Timestamp, float]]] = {}
    counters: dict[str, float] = {}
    types: dict[str, str] = {}

    def sample(name: str, labels: dict[str, str], at: pd.Timestamp, value: float) -> None:
        series.setdefault(name + _label_text(labels), []).append((at, value))

    def grow(name: str, labels: dict[str, str], step_end: pd.Timestamp, per_scrape: list[float]):
        key = name + _label_text(labels)
        if key not in counters:  # the counter exists one step earlier, at a big value
            counters[key] = 123_456.0
            sample(name, labels, step_end - STEP, counters[key])
        for k, increment in enumerate(per_scrape, start=1):
            counters[key] += increment
            if (
                reset
                and name == "container_cpu_usage_seconds_total"
                and step_end == STEPS[6]
                and k == 4
                and labels["pod"] == "gitserver-0"
            ):
                counters[key] = increment  # the container restarted: the counter starts over
            sample(name, labels, step_end - STEP + k * SCRAPE, counters[key])

    scrapes = int(STEP / SCRAPE)
    cadvisor_target = {"instance": "10.0.3.17:10250", "job": "kubernetes-nodes-cadvisor"}
    for row in frame.itertuples(index=False):
        t, value = row.timestamp, row.value
        pod = {p: c for _, p, c in PODS}.get(row.instance)
        labels = {
            **cadvisor_target,
            "namespace": "sourcegraph",
            "pod": row.instance,
            "container": pod or "",
            "id": f"/kubepods/{row.instance}",
            "image": "sg:7.5",
        }
        times = [t - STEP + k * SCRAPE for k in range(1, scrapes + 1)]
        if row.metric == "cpu_usage_cores":
            types["container_cpu_usage_seconds"] = "counter"
            grow("container_cpu_usage_seconds_total", labels, t, [value * 30.0] * scrapes)
        elif row.metric == "memory_working_set_bytes":
            types["container_memory_working_set_bytes"] = "gauge"
            for k, at in enumerate(times):  # the peak between two points is what counts
                sample(
                    "container_memory_working_set_bytes",
                    labels,
                    at,
                    value if k == 4 else value * 0.8,
                )
        elif row.metric == "memory_limit_bytes":
            for at in times:
                sample("container_spec_memory_limit_bytes", labels, at, value)
        elif row.metric == "cpu_limit_cores":
            for at in times:
                sample("container_spec_cpu_quota", labels, at, value * 100_000)
                sample("container_spec_cpu_period", labels, at, 100_000.0)
        elif row.metric == "cpu_throttled_ratio":
            grow("container_cpu_cfs_periods_total", labels, t, [300.0] * scrapes)
            grow("container_cpu_cfs_throttled_periods_total", labels, t, [300.0 * value] * scrapes)
        elif row.metric == "oom_kills":
            grow("container_oom_events_total", labels, t, [value] + [0.0] * (scrapes - 1))
        elif row.metric == "disk_capacity_bytes":
            gitserver = {
                "instance": "10.0.7.2:3178",
                "job": "kubernetes-pods",
                "app": "gitserver",
                "pod": row.instance,
            }
            used = frame[(frame["metric"] == "disk_used_bytes") & (frame["timestamp"] == t)]
            available = value - float(used["value"].iloc[0])
            for k, at in enumerate(times):
                sample("src_gitserver_disk_space_total", gitserver, at, value)
                last = k == scrapes - 1  # what the step ends with is what counts
                sample(
                    "src_gitserver_disk_space_available",
                    gitserver,
                    at,
                    available if last else available + 5e9,
                )
        elif row.metric == "alerts_firing":
            alert = {
                "service_name": "frontend",
                "name": HTML_ALERT,
                "level": "warning",
                "description": "frontend: 99th percentile search > 20s",
                "owner": "search",
            }
            for k, at in enumerate(times):
                sample("alert_count", alert, at, value if k == 3 else 0.0)
    # Series Prometheus also holds that import leaves out: other containers, pod cgroups.
    for k in range(1, 40):
        at = STEPS[0] - STEP + k * SCRAPE
        sample(
            "container_memory_working_set_bytes",
            {
                **cadvisor_target,
                "namespace": "kube-system",
                "pod": "cadvisor-x8s2d",
                "container": "cadvisor",
            },
            at,
            5e7,
        )
        sample(
            "container_memory_working_set_bytes",
            {**cadvisor_target, "namespace": "sourcegraph", "pod": "gitserver-0", "container": ""},
            at,
            9e9,
        )

    lines = [f"# TYPE {name} {kind}" for name, kind in types.items()]
    for key, points in series.items():  # one series after the other, as the dumps write
        for at, value in sorted(points):
            stamp = f"{at.value / 1e9:.3f}" if openmetrics else str(at.value // 1_000_000)
            lines.append(f"{key} {value!r} {stamp}")
    if openmetrics:
        lines.append("# EOF")
    return "\n".join(lines) + "\n"


def keyed(frame: pd.DataFrame) -> pd.Series:
    frame = frame.copy()
    frame["label"] = frame.get("label", "")
    for column in ("metric", "service", "instance", "label"):
        frame[column] = frame[column].astype(str)
    return frame.set_index(["metric", "service", "instance", "label", "timestamp"])[
        "value"
    ].sort_index()


def assert_same_points(imported: pd.DataFrame, expected: pd.DataFrame) -> None:
    got, want = keyed(imported), keyed(expected)
    assert sorted(got.index) == sorted(want.index)
    got = got.loc[want.index]
    rates = want.index.get_level_values("metric").isin(["cpu_usage_cores", "cpu_throttled_ratio"])
    np.testing.assert_allclose(got[rates], want[rates], rtol=0.01, atol=1e-9)
    np.testing.assert_array_equal(got[~rates].to_numpy(), want[~rates].to_numpy())


# ---------------------------------------------------------------------- round trips


@pytest.mark.parametrize("openmetrics", [True, False], ids=["openmetrics", "prometheus-text"])
def test_exposition_round_trip(tmp_path: Path, openmetrics: bool) -> None:
    expected = canonical()
    path = tmp_path / ("export.om" if openmetrics else "export.prom")
    path.write_text(exposition(expected, openmetrics=openmetrics))
    store = Store(tmp_path / "store")

    result = import_file(store, "acme", path, deployment="helm", step=STEP)

    assert result.kind == ("openmetrics" if openmetrics else "prometheus-text")
    assert result.rows == len(expected)
    assert_same_points(store.read_metrics("acme"), expected)
    assert "cadvisor" in result.skipped and "pod cgroup gitserver-0" in result.skipped
    load = store.read_manifest("acme").loads[-1]
    assert load.source == f"import:{result.kind}"
    assert load.model_dump()["file"] == path.name
    assert load.rows == len(expected) and load.metrics == sorted(set(expected["metric"]))
    assert load.start == STEPS[0] and load.end == STEPS[-1]


def test_html_in_a_label_stays_text(tmp_path: Path) -> None:
    path = tmp_path / "export.om.gz"
    path.write_bytes(gzip.compress(exposition(canonical()).encode()))
    store = Store(tmp_path / "store")
    import_file(store, "acme", path, deployment="helm", step=STEP)
    alerts = store.read_metrics("acme", "alerts_firing")
    assert set(alerts["label"].astype(str)) == {f"warning/{HTML_ALERT}"}


def test_docker_compose_and_sourcegraph_cadvisor_names(tmp_path: Path) -> None:
    """`name` is the compose container_name, or "<container>-<pod>" on Kubernetes."""
    lines = []
    for name in ("gitserver-0", "sourcegraph-frontend-0", "codeintel-db", "pgsql-exporter"):
        for k in range(11):
            lines.append(
                f'container_memory_working_set_bytes{{name="{name}"}} {1e9 + k} '
                f"{1782864000 + 30 * k}"
            )
    lines.append("# EOF")
    compose = tmp_path / "compose.om"
    compose.write_text("\n".join(lines) + "\n")
    frame = load_file(compose, deployment="docker-compose").frame
    assert set(zip(frame["service"].astype(str), frame["instance"].astype(str), strict=True)) == {
        ("gitserver", "gitserver-0"),
        ("frontend", "sourcegraph-frontend-0"),
        ("codeintel-db", "codeintel-db"),
    }

    helm = tmp_path / "helm.om"
    helm.write_text(
        compose.read_text()
        .replace('"gitserver-0"', '"gitserver-gitserver-0"')
        .replace('"codeintel-db"', '"pgsql-codeintel-db-0"')
        .replace('"sourcegraph-frontend-0"', '"frontend-sourcegraph-frontend-7c9-abcde"')
    )
    frame = load_file(helm, deployment="helm").frame
    assert set(zip(frame["service"].astype(str), frame["instance"].astype(str), strict=True)) == {
        ("gitserver", "gitserver-0"),
        ("frontend", "sourcegraph-frontend-7c9-abcde"),
        ("codeintel-db", "codeintel-db-0"),
    }


def test_canonical_csv_round_trip(tmp_path: Path) -> None:
    expected = canonical()
    path = tmp_path / "points.csv"
    expected.to_csv(path, index=False)
    store = Store(tmp_path / "store")
    result = import_file(store, "acme", path, deployment="helm")
    assert result.kind == "csv"
    assert_same_points(store.read_metrics("acme"), expected)
    assert set(store.read_metrics("acme", "alerts_firing")["label"].astype(str)) == {
        f"warning/{HTML_ALERT}"
    }


def test_canonical_parquet_round_trip(tmp_path: Path) -> None:
    expected = canonical()
    path = tmp_path / "points.parquet"
    expected.astype({"metric": "category", "service": "category"}).to_parquet(path)
    store = Store(tmp_path / "store")
    result = import_file(store, "acme", path, deployment="helm")
    assert result.kind == "parquet"
    assert_same_points(store.read_metrics("acme"), expected)
    assert store.read_manifest("acme").loads[-1].source == "import:parquet"


# ---------------------------------------------------------------------- bad files


def _replace_line(text: str, number: int, new: str) -> str:
    lines = text.split("\n")
    lines[number - 1] = new
    return "\n".join(lines)


def _last_sample_line(text: str) -> int:
    lines = text.split("\n")
    return max(i for i, line in enumerate(lines, 1) if line and not line.startswith("#"))


BAD_EXPOSITION: dict[str, tuple[Callable[[str], str], str]] = {
    "malformed line": (
        lambda t: _replace_line(t, _last_sample_line(t), "this is { not a sample"),
        "not a sample line",
    ),
    "malformed labels": (
        lambda t: _replace_line(
            t, _last_sample_line(t), 'container_oom_events_total{pod=gitserver-0"} 1 1782864000'
        ),
        "malformed labels",
    ),
    "unknown metric": (
        lambda t: _replace_line(t, _last_sample_line(t), "go_goroutines 42 1782864000.000"),
        "unknown metric 'go_goroutines'",
    ),
    "infinite": (
        lambda t: _replace_line(
            t, _last_sample_line(t), 'alert_count{service_name="x",name="y"} +Inf 1782864000'
        ),
        "value +Inf is not a finite number",
    ),
    "no timestamp": (
        lambda t: _replace_line(
            t, _last_sample_line(t), 'alert_count{service_name="a b",name="y"} 1'
        ),
        "sample without a timestamp",
    ),
    "bad timestamp": (
        lambda t: _replace_line(t, _last_sample_line(t), "alert_count 1 yesterday"),
        "timestamp 'yesterday' is not a number",
    ),
    "after EOF": (lambda t: t + "alert_count 1 1782864000\n", "content after '# EOF'"),
}


@pytest.mark.parametrize("case", sorted(BAD_EXPOSITION))
def test_bad_exposition_is_refused_with_file_and_line_and_nothing_written(
    tmp_path: Path, case: str
) -> None:
    store = Store(tmp_path / "store")
    good = tmp_path / "good.om"
    good.write_text(exposition(canonical()))
    import_file(store, "acme", good, deployment="helm", step=STEP)
    before = _snapshot(store.root)

    spoil, message = BAD_EXPOSITION[case]
    text = good.read_text()
    bad = tmp_path / "bad.om"
    bad.write_text(spoil(text))
    with pytest.raises(SourceError) as caught:
        import_file(store, "acme", bad, deployment="helm", step=STEP)

    error = str(caught.value)
    assert message in error and "\n" not in error
    assert error.startswith(f"{bad}: line ")
    if case not in ("after EOF",):
        assert f"line {_last_sample_line(text)}:" in error
    assert _snapshot(store.root) == before  # not a byte written, manifest included


def test_seconds_without_eof_are_caught_as_the_wrong_unit(tmp_path: Path) -> None:
    path = tmp_path / "export.prom"
    path.write_text(exposition(canonical()).replace("# EOF\n", ""))
    with pytest.raises(SourceError, match=r"line \d+: timestamp .* read as milliseconds"):
        load_file(path, deployment="helm")


def test_a_step_under_twice_the_scrape_interval_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "export.om"
    path.write_text(exposition(canonical()))
    with pytest.raises(SourceError, match=r"step 0 days 00:00:45 is shorter than twice"):
        load_file(path, deployment="helm", step=parse_step("45s"))


def test_unknown_metrics_can_be_skipped_on_request(tmp_path: Path) -> None:
    path = tmp_path / "export.om"
    text = exposition(canonical())
    path.write_text("go_goroutines 42 1782864000.000\n" + text)
    loaded = load_file(path, deployment="helm", skip_unknown=True)
    assert "go_goroutines" in loaded.skipped_summary()
    assert len(loaded.frame) == len(canonical())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\n  \n", "the file is empty"),
        (b"# HELP a b\n# TYPE a gauge\n# EOF\n", "no samples, only comments"),
        (gzip.compress(b""), "the file is empty"),
    ],
    ids=["empty", "blank", "comments only", "empty gzip"],
)
def test_empty_files_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "export.om"
    path.write_bytes(content)
    with pytest.raises(SourceError, match=message):
        load_file(path, deployment="helm")


def _csv_with(tmp_path: Path, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Path:
    path = tmp_path / "points.csv"
    change(canonical()).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="value"), "line 1: columns missing ['value']"),
        (lambda f: f.assign(extra=1), "line 1: columns unexpected ['extra']"),
        (lambda f: f.assign(value=f["value"].where(f.index != 40)), "line 42: value is not"),
        (
            lambda f: f.assign(metric=f["metric"].where(f.index != 9, "cpu_seconds")),
            "line 11: unknown metric: 'cpu_seconds'",
        ),
        (
            lambda f: f.assign(timestamp=f["timestamp"].dt.tz_localize(None)),
            "line 2: timestamp has no timezone",
        ),
        (
            lambda f: f.assign(timestamp=f["timestamp"].astype(str).where(f.index != 3, "soon")),
            "line 5: timestamp has no timezone: 'soon'",
        ),
        (lambda f: pd.concat([f, f.iloc[[5]]]), f"line {len(canonical()) + 2}: duplicate point"),
        (
            lambda f: f.assign(service=f["service"].where(f.index != 0, "")),
            "line 2: service is empty",
        ),
    ],
    ids=[
        "missing column",
        "extra column",
        "NaN",
        "unknown metric",
        "naive time",
        "bad time",
        "duplicate",
        "empty service",
    ],
)
def test_bad_csv_is_refused_with_file_and_line(
    tmp_path: Path, change: Callable[[pd.DataFrame], pd.DataFrame], message: str
) -> None:
    path = _csv_with(tmp_path, change)
    store = Store(tmp_path / "store")
    with pytest.raises(SourceError) as caught:
        import_file(store, "acme", path, deployment="helm")
    assert message in str(caught.value) and str(caught.value).startswith(f"{path}: ")
    assert not (store.root / "acme").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.rename(columns={"value": "v"}), "the schema: columns missing ['value']"),
        (
            lambda f: f.assign(value=f["value"].where(f.index != 7)),
            "row 8: value is NaN or infinite",
        ),
        (
            lambda f: f.assign(timestamp=f["timestamp"].dt.tz_localize(None)),
            "column 'timestamp' has no timezone",
        ),
    ],
    ids=["wrong columns", "NaN", "naive time"],
)
def test_bad_parquet_is_refused_with_file_and_row(
    tmp_path: Path, change: Callable[[pd.DataFrame], pd.DataFrame], message: str
) -> None:
    path = tmp_path / "points.parquet"
    change(canonical()).to_parquet(path)
    with pytest.raises(SourceError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_file(path, deployment="helm")


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# ---------------------------------------------------------------------- the command


def _customers(tmp_path: Path) -> Path:
    path = tmp_path / "customers.yaml"
    path.write_text("customers:\n  - name: acme\n    deployment: helm\n")
    return path


def run(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        [
            "import",
            *args,
            "--store",
            str(tmp_path / "store"),
            "--customers",
            str(_customers(tmp_path)),
        ],
    )


def test_cli_imports_and_summarises(tmp_path: Path) -> None:
    path = tmp_path / "export.om"
    path.write_text(exposition(canonical()))
    result = run(tmp_path, str(path), "--customer", "acme")
    assert result.exit_code == 0, result.output
    assert f"Imported {len(canonical()):,} points of 9 metric(s)" in result.stdout
    assert "(openmetrics)" in result.stdout and "Skipped series:" in result.stdout
    manifest = json.loads((tmp_path / "store" / "acme" / "manifest.json").read_text())
    assert manifest["loads"][0]["file"] == "export.om"


def test_cli_refuses_a_customer_not_in_the_list(tmp_path: Path) -> None:
    path = tmp_path / "export.om"
    path.write_text(exposition(canonical()))
    result = run(tmp_path, str(path), "--customer", "globex")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown customer 'globex'" in lines[0]
    assert "add the customer there with its deployment" in lines[0]
    assert not (tmp_path / "store").exists()


def test_cli_reports_a_bad_line_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "export.om"
    path.write_text('alert_count{service_name="frontend",name="x"} 1\n# EOF\n')
    result = run(tmp_path, str(path), "--customer", "acme")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {path}: line 1: sample without a timestamp: "
        '\'alert_count{service_name="frontend",name="x"} 1\'; import needs timestamps '
        "(export with `promtool tsdb dump-openmetrics` or `healthcheck export`, not a "
        "/metrics scrape)"
    )
    step = run(tmp_path, str(path), "--customer", "acme", "--step", "5x")
    assert step.exit_code == 2 and "invalid step '5x'" in step.stderr
    missing = run(tmp_path, str(tmp_path / "absent.om"), "--customer", "acme")
    assert missing.exit_code == 2 and "cannot read" in missing.stderr


def promtool_dump(text: str) -> str:
    """Prometheus text as `promtool tsdb dump` (2.x) writes it: the name inside the braces as
    ``__name__``, labels sorted, a space after each comma, milliseconds."""
    from healthcheck.sources.exposition import _parse_series_key

    lines = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, value, stamp = line.rsplit(" ", 2)
        name, labels = _parse_series_key(Path("x"), key, 0)
        pairs = sorted({**labels, "__name__": name}.items())
        quoted = ", ".join(f"{k}={json.dumps(v)}" for k, v in pairs)
        lines.append(f"{{{quoted}}} {float(value)!r} {stamp}")
    return "\n".join(lines) + "\n"


def sorted_frame(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype({c: str for c in ("metric", "service", "instance", "label")})
    return frame.sort_values(["metric", "service", "instance", "label", "timestamp"]).reset_index(
        drop=True
    )


def test_a_promtool_dump_imports_like_the_text_it_was_made_of(tmp_path: Path) -> None:
    """`promtool tsdb dump` of Prometheus 2.x: ``{__name__="…", a="…"} value ms``."""
    expected = canonical()
    text = exposition(expected, openmetrics=False)
    path = tmp_path / "prometheus.dump"
    path.write_text(promtool_dump(text))
    assert path.read_text().startswith('{__name__="container_cpu_usage_seconds_total", container=')
    store = Store(tmp_path / "store")
    result = import_file(store, "acme", path, deployment="helm", step=STEP)
    assert result.kind == "promtool-dump"
    assert_same_points(store.read_metrics("acme"), expected)
    assert store.read_manifest("acme").loads[-1].source == "import:promtool-dump"
    assert set(store.read_metrics("acme", "alerts_firing")["label"].astype(str)) == {
        f"warning/{HTML_ALERT}"
    }


@pytest.mark.parametrize("block_bytes", [200, 4096, 1 << 24], ids=["200B", "4kB", "16MB"])
@pytest.mark.parametrize("shape", ["openmetrics", "prometheus-text", "promtool-dump", "by-time"])
def test_the_block_size_changes_nothing(tmp_path: Path, shape: str, block_bytes: int) -> None:
    """Read in blocks of a few lines, series, steps and counter intervals straddle blocks; the
    result is the same, whatever the order of the series (one after the other, as the dumps
    write, or by time, as scrapes come), label values with spaces and an exemplar included."""
    text = exposition(canonical(), openmetrics=shape != "prometheus-text")
    if shape == "promtool-dump":
        text = promtool_dump(exposition(canonical(), openmetrics=False))
    elif shape == "by-time":
        body = [line for line in text.splitlines() if line and not line.startswith("#")]
        body.sort(key=lambda line: float(line.rsplit(" ", 1)[1]))
        text = "\n".join([*body, "# EOF", ""])
    if shape == "openmetrics":
        text = text.replace(
            "# EOF",
            'alert_count{service_name="frontend",name="x y",level="critical"} 1.0 1782864030.0 '
            '# {trace_id="a"} 1\n# EOF',
        )
    path = tmp_path / "export.txt"
    path.write_text(text)
    whole = load_file(path, deployment="helm", step=STEP)
    blocks = load_file(path, deployment="helm", step=STEP, block_bytes=block_bytes)
    assert blocks.kind == whole.kind and blocks.sha256 == whole.sha256
    pd.testing.assert_frame_equal(sorted_frame(blocks.frame), sorted_frame(whole.frame))
    assert_same_points(whole.frame[whole.frame["label"] != "critical/x y"], canonical())


def test_staleness_markers_are_dropped_and_counted(tmp_path: Path) -> None:
    """Prometheus writes NaN where a series ended; its dumps copy them: a gap, not a value."""
    text = promtool_dump(exposition(canonical(), openmetrics=False))
    lines = text.splitlines()
    last = lines[-1].rsplit(" ", 2)
    lines.append(f"{last[0]} NaN {int(last[2]) + 30_000}")
    path = tmp_path / "prometheus.dump"
    path.write_text("\n".join(lines) + "\n")
    loaded = load_file(path, deployment="helm", step=STEP)
    assert_same_points(loaded.frame, canonical())
    assert "NaN samples dropped (Prometheus staleness markers) (1)" in loaded.skipped_summary()


BAD_DUMP: dict[str, tuple[str, str]] = {
    "no timestamp": (
        '{__name__="alert_count", level="warning", name="a b", service_name="x"} 1',
        "sample without a timestamp",
    ),
    "no name": ('{level="warning", service_name="x"} 1 1782864000000', "invalid metric name ''"),
    "malformed labels": (
        '{__name__="alert_count", level=warning"} 1 1782864000000',
        "malformed labels",
    ),
    "neither format": ("container_cpu_usage_seconds_total 12 at noon", "not a sample line"),
    "seconds": (
        '{__name__="alert_count", name="a", service_name="x"} 1 1782864000',
        "timestamp 1782864000 read as milliseconds",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_DUMP))
def test_a_bad_line_deep_in_a_dump_is_named(tmp_path: Path, case: str) -> None:
    """Far past the first block, through gzip, the line's number is right."""
    lines = promtool_dump(exposition(canonical(), openmetrics=False)).splitlines()
    number = len(lines) - 3
    new, message = BAD_DUMP[case]
    lines[number - 1] = new
    path = tmp_path / "prometheus.dump.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    store = Store(tmp_path / "store")
    with pytest.raises(SourceError) as caught:
        import_file(store, "acme", path, deployment="helm", step=STEP)
    error = str(caught.value)
    assert error.startswith(f"{path}: line {number}: ") and message in error, error
    assert "\n" not in error and not (store.root / "acme").exists()


def test_a_series_going_back_in_time_is_refused(tmp_path: Path) -> None:
    lines = exposition(canonical()).splitlines()
    samples = [i for i, line in enumerate(lines) if line.startswith("container_memory_working")]
    lines[samples[5]], lines[samples[6]] = lines[samples[6]], lines[samples[5]]
    path = tmp_path / "export.om"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SourceError, match=rf"line {samples[6] + 1}: sample of .* is older than "):
        load_file(path, deployment="helm", step=STEP, block_bytes=1000)


def test_cli_names_a_promtool_dump_and_refuses_a_cut_openmetrics_file(tmp_path: Path) -> None:
    path = tmp_path / "prometheus.txt"
    path.write_text(promtool_dump(exposition(canonical(), openmetrics=False)))
    result = run(tmp_path, str(path), "--customer", "acme")
    assert result.exit_code == 0, result.output
    assert "(promtool-dump)" in result.stdout
    cut = tmp_path / "cut.om"
    cut.write_text(exposition(canonical()).replace("# EOF\n", ""))
    result = run(tmp_path, str(cut), "--customer", "acme")
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "'# EOF' is missing (a cut file?)" in result.stderr


def test_kube_state_metrics_settings_win_over_cadvisor_quota(tmp_path: Path) -> None:
    pod = 'container="searcher",namespace="sourcegraph",pod="searcher-0"'
    lines = []
    for k in range(11):
        at = 1782864000 + 30 * k
        lines += [
            f'kube_pod_container_resource_requests{{{pod},resource="cpu",unit="core"}} 0.5 {at}',
            f'kube_pod_container_resource_requests{{{pod},resource="memory",unit="byte"}} 5e8 {at}',
            f'kube_pod_container_resource_limits{{{pod},resource="cpu",unit="core"}} 2 {at}',
            f'kube_pod_container_resource_limits{{{pod},resource="memory",unit="byte"}} 2e9 {at}',
            f"kube_pod_container_status_restarts_total{{{pod}}} {3 + (k >= 6)} {at}",
            f"container_spec_cpu_quota{{{pod}}} 150000 {at}",
            f"container_spec_cpu_period{{{pod}}} 100000 {at}",
        ]
    path = tmp_path / "ksm.om"
    path.write_text("\n".join(lines) + "\n# EOF\n")
    frame = load_file(path, deployment="kustomize").frame
    last = frame[frame["timestamp"] == frame["timestamp"].max()]
    values = dict(zip(last["metric"].astype(str), last["value"], strict=True))
    assert values == {
        "cpu_request_cores": 0.5,
        "memory_request_bytes": 5e8,
        "cpu_limit_cores": 2.0,  # the configured limit, not the 1.5 of the quota
        "memory_limit_bytes": 2e9,
        "container_restarts": 1.0,
    }
    assert set(frame["instance"].astype(str)) == {"searcher-0"}


def test_import_reads_what_export_writes(tmp_path: Path) -> None:
    """The file `healthcheck export` writes (its schema and metadata) imports as it is."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from healthcheck.sources.export import EXPORT_SCHEMA

    expected = canonical()
    schema = EXPORT_SCHEMA.with_metadata(
        {"healthcheck": json.dumps({"customer": "acme", "step_seconds": 300})}
    )
    path = tmp_path / "acme-2026Q3.parquet"
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for _, part in expected.groupby("metric", sort=False):  # one row group per chunk
            writer.write_table(pa.Table.from_pandas(part, schema=schema, preserve_index=False))
    store = Store(tmp_path / "store")
    import_file(store, "acme", path, deployment="helm")
    assert_same_points(store.read_metrics("acme"), expected)
    load = store.read_manifest("acme").loads[-1].model_dump()
    assert load["origin"] == {"customer": "acme", "step_seconds": 300}


def test_queue_gauges_are_service_level_like_the_pull(tmp_path: Path) -> None:
    """Each replica's step peak, summed over zoekt's indexservers; a label per executor queue."""
    seconds = np.arange(1, 121) * 30 + int(STEPS[0].timestamp()) - 300  # 00:00:30 .. 01:00
    series: dict[str, np.ndarray] = {
        'index_queue_len{instance="indexed-search-0:6072"}': (seconds // 60) % 7 * 10.0,
        'index_queue_len{instance="indexed-search-1:6072"}': np.full(120, 3.0),
        'src_executor_total{queue="batches"}': (seconds // 30) % 4 * 1.0,
        'src_executor_total{queue="codeintel"}': np.full(120, 2.0),
        'src_workerutil_queue_duration_seconds{domain="codeintel_upload"}': seconds % 600 * 1.0,
        'src_workerutil_queue_duration_seconds{domain="batches"}': np.full(120, 9e9),
        "src_query_runner_worker_total": np.full(120, 250.0),
    }
    lines = [
        f"{name} {value:g} {stamp}"
        for name, values in series.items()
        for value, stamp in zip(values, seconds, strict=True)
    ]
    path = tmp_path / "queues.om"
    path.write_text("\n".join([*lines, "# EOF", ""]))
    frame = load_file(path, deployment="helm").frame
    assert set(frame["instance"]) == {""}

    def points(metric: str, label: str = "") -> pd.DataFrame:
        part = frame[(frame["metric"] == metric) & (frame["label"] == label)]
        return part.sort_values("timestamp")

    peaks = pd.Series(seconds // 60 % 7 * 10.0, index=pd.to_datetime(seconds, unit="s", utc=True))
    expected = peaks.groupby(peaks.index.ceil("5min")).max() + 3
    index = points("index_queue_length")
    assert set(index["service"]) == {"zoekt-indexserver"}
    assert list(index["value"]) == list(expected.to_numpy())
    assert set(points("executor_queue_length", "batches")["value"]) == {3.0}
    assert set(points("executor_queue_length", "codeintel")["value"]) == {2.0}
    upload = points("codeintel_upload_queue_age_seconds")  # the other domain is left out
    assert set(upload["service"]) == {"precise-code-intel-worker"}
    assert upload["value"].max() == 570
    assert set(points("insights_queue_length")["service"]) == {"worker"}
