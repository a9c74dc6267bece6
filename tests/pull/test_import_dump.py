"""`healthcheck import` of what the real tools export, against a `pull` of the same Prometheus.

The session's real Prometheus (three days of one-minute samples, tests/pull/conftest.py) is
dumped by the real `promtool tsdb dump` (the only dump command of Prometheus 2.42, Debian's
package, and older: ``{__name__="…", …} value milliseconds``). Importing the dump must store what
a pull of the same Prometheus stores: CPU rates within 1 % at p99, memory peaks equal, and no
series the pull does not have. `healthcheck export` of the same Prometheus, imported, must store
exactly what the pull stores.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from conftest import PROMTOOL, START, PrometheusServer

from healthcheck.cli import cli
from healthcheck.store import Store

END = START + timedelta(days=3)
KEY = ["metric", "service", "instance", "label", "timestamp"]
RATES = ("cpu_usage_cores", "cpu_throttled_ratio", "oom_kills", "container_restarts")
# What the pull reads that import does not map from raw samples (docs/pull.md, "import")
PULL_ONLY = {"disk_capacity_bytes", "disk_used_bytes", "replicas", "search_requests_per_second"}
# (customer, deployment, promtool --match): the compose customer's Prometheus holds only what
# its own cAdvisor scrapes; the Kubernetes customer's dump is the whole TSDB.
CUSTOMERS = {
    "acme": ("helm", None),
    "globex": ("docker-compose", '{job="cadvisor"}'),
}


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@dataclass
class Setup:
    folder: Path
    customers: Path
    prometheus: PrometheusServer


@pytest.fixture(scope="module")
def setup(prometheus: PrometheusServer, tmp_path_factory: pytest.TempPathFactory) -> Setup:
    folder = tmp_path_factory.mktemp("import-dump")
    customers = folder / "customers.yaml"
    customers.write_text(
        "customers:\n"
        + "".join(
            f"  - {{name: {name}, deployment: {deployment}, "
            f"prometheus: {{url: '{prometheus.url}'}}}}\n"
            for name, (deployment, _) in CUSTOMERS.items()
        )
    )
    return Setup(folder, customers, prometheus)


def promtool_dump(setup: Setup, name: str) -> Path:
    """What a customer runs: `promtool tsdb dump` of the Prometheus storage folder."""
    match = CUSTOMERS[name][1]
    path = setup.folder / f"{name}.dump"
    with path.open("wb") as handle:
        subprocess.run(
            [
                PROMTOOL,
                "tsdb",
                "dump",
                *([f"--match={match}"] if match else []),
                str(setup.prometheus.data_dir),
            ],
            stdout=handle,
            stderr=subprocess.PIPE,
            check=True,
        )
    return path


@pytest.fixture(scope="module")
def pulled(setup: Setup) -> dict[str, pd.DataFrame]:
    """Each customer pulled at 5m over the three days, through the CLI."""
    store = setup.folder / "pulled"
    frames = {}
    for name in CUSTOMERS:
        result = run(
            "pull", "--customer", name, "--since", START.isoformat(), "--until", END.isoformat(),
            "--step", "5m", "--store", str(store), "--customers", str(setup.customers),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        frames[name] = Store(store).read_metrics(name)
    return frames


def import_into(setup: Setup, store: Path, name: str, path: Path, *options: str) -> pd.DataFrame:
    result = run(
        "import", str(path), "--customer", name, "--store", str(store),
        "--customers", str(setup.customers), *options,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    frame = Store(store).read_metrics(name)
    stamps = frame["timestamp"]
    return frame[(stamps > pd.Timestamp(START)) & (stamps <= pd.Timestamp(END))]


def keyed(frame: pd.DataFrame) -> pd.Series:
    frame = frame.copy()
    for column in KEY[:-1]:
        frame[column] = frame[column].astype(str)
    return frame.set_index(KEY)["value"].sort_index()


def relative_error(got: pd.Series, want: pd.Series) -> np.ndarray:
    scale = np.maximum(np.abs(want.to_numpy()), 1e-12)
    return np.asarray(np.abs(got.to_numpy() - want.to_numpy()) / scale)


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("name", sorted(CUSTOMERS))
def test_a_promtool_dump_imports_what_a_pull_stores(
    setup: Setup, pulled: dict[str, pd.DataFrame], name: str, compressed: bool, tmp_path: Path
) -> None:
    dump = promtool_dump(setup, name)
    first = dump.read_text().split("\n", 1)[0]
    assert first.startswith('{__name__="'), first  # the format of promtool 2.x
    if compressed:
        packed = tmp_path / "dump.txt.gz"
        with dump.open("rb") as source, gzip.open(packed, "wb") as target:
            shutil.copyfileobj(source, target)
        dump = packed
    imported = keyed(import_into(setup, tmp_path / "store", name, dump, "--skip-unknown"))
    pull = keyed(pulled[name])

    metrics = set(imported.index.get_level_values("metric"))
    assert {"cpu_usage_cores", "memory_working_set_bytes"} <= metrics
    if name == "acme":  # the whole TSDB: every other metric of the pull is imported too
        assert set(pull.index.get_level_values("metric")) - metrics == PULL_ONLY
    # every series import stores, the pull stores too, at the same steps
    series = imported.index.droplevel("timestamp").unique()
    pull_series = pull.index.droplevel("timestamp").unique()
    assert set(series) - set(pull_series) == set()
    want = pull[pull.index.droplevel("timestamp").isin(series)]
    assert sorted(imported.index) == sorted(want.index)
    got = imported.loc[want.index]

    is_rate = want.index.get_level_values("metric").isin(RATES)
    cpu = want.index.get_level_values("metric") == "cpu_usage_cores"
    assert cpu.sum() > 800 * (2 if name == "acme" else 1)
    assert np.percentile(relative_error(got[cpu], want[cpu]), 99) <= 0.01
    np.testing.assert_allclose(got[is_rate], want[is_rate], rtol=0.01, atol=1e-9)
    # gauges: the step's peak (or setting), equal
    np.testing.assert_array_equal(got[~is_rate].to_numpy(), want[~is_rate].to_numpy())
    memory = want.index.get_level_values("metric") == "memory_working_set_bytes"
    assert memory.sum() > 800


@pytest.mark.parametrize("name", sorted(CUSTOMERS))
def test_export_then_import_stores_what_a_pull_stores(
    setup: Setup, pulled: dict[str, pd.DataFrame], name: str, tmp_path: Path
) -> None:
    path = tmp_path / f"{name}.parquet"
    result = run(
        "export", "--customer", name, "-o", str(path), "--since", START.isoformat(),
        "--until", END.isoformat(), "--step", "5m", "--customers", str(setup.customers),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    imported = keyed(import_into(setup, tmp_path / "store", name, path))
    pull = keyed(pulled[name])
    assert sorted(imported.index) == sorted(pull.index)
    np.testing.assert_array_equal(imported.loc[pull.index].to_numpy(), pull.to_numpy())


def test_a_line_that_is_neither_format_is_one_line_and_exit_2(setup: Setup, tmp_path: Path) -> None:
    dump = promtool_dump(setup, "globex")
    lines = dump.read_text().split("\n")
    lines[1000] = "container_cpu_usage_seconds_total 12 at noon"
    bad = tmp_path / "bad.dump"
    bad.write_text("\n".join(lines))
    store = tmp_path / "store"
    result = run(
        "import", str(bad), "--customer", "globex", "--store", str(store),
        "--customers", str(setup.customers),
    )  # fmt: skip
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert "\n" not in message and f"{bad}: line 1001:" in message, message
    assert not (store / "globex").exists()  # only the lock's folder was made
