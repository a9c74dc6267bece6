"""Report benchmark: one full quarterly report of a demo customer, against the floor.

Run: `.venv/bin/python benchmarks/report.py [--store DIR] [--customer NAME] [--quarter 2026Q3]
[--repeat 3]`. Without --store, the demo fleet's first customer is generated into a temporary
folder (`healthcheck demo --no-report --count 1 --end 2026-10-01`: 2026Q2 and 2026Q3).

Both runs go through `render_report`, with the same kernel manager, template and writes:

- **report**: the real notebook for one customer's quarter (its previous quarter is rendered
  first, untimed, so the report finds last quarter's summary as it would in production);
- **floor**: papermill plus nbconvert of an empty notebook (only the parameters cell).

Each render is split into kernel start (from papermill's call to the first cell starting),
analysis (first cell start to last cell end, from papermill's cell timestamps), kernel shutdown
and papermill's bookkeeping (the rest of execution), export (nbconvert) and write. Rounds are
interleaved; the best of `--repeat` is printed, with the ratio report / floor (target: 4×) and
the HTML's size.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat

import healthcheck.report.render as render_module
from healthcheck.quarters import Quarter
from healthcheck.report.render import render_report
from healthcheck.store import Store


@dataclass
class Timing:
    total: float = 0.0
    execute: float = 0.0
    kernel_start: float = 0.0
    analysis: float = 0.0
    export: float = 0.0
    html_bytes: int = 0
    cells: list[tuple[float, str]] | None = None

    @property
    def shutdown(self) -> float:
        return self.execute - self.kernel_start - self.analysis

    @property
    def write(self) -> float:
        return self.total - self.execute - self.export


def _timed(
    name: str, timing: Timing, attribute: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            wall = datetime.now().astimezone()
            result = function(*args, **kwargs)
            setattr(timing, attribute, time.perf_counter() - started)
            if attribute == "execute":
                _split(result, wall, timing)
            return result

        return timed

    return wrap


def _split(notebook: Any, called: datetime, timing: Timing) -> None:
    """Kernel start and analysis from papermill's per-cell start and end times."""
    stamps = [
        cell.metadata.get("papermill", {})
        for cell in notebook.cells
        if cell.cell_type == "code" and cell.metadata.get("papermill", {}).get("start_time")
    ]
    first = datetime.fromisoformat(stamps[0]["start_time"])
    last = datetime.fromisoformat(stamps[-1]["end_time"])
    timing.kernel_start = (first - called).total_seconds()
    timing.analysis = (last - first).total_seconds()
    timing.cells = sorted(
        (
            (float(cell.metadata.papermill.get("duration") or 0.0), cell.source.splitlines()[0])
            for cell in notebook.cells
            if cell.cell_type == "code" and cell.source.strip()
        ),
        reverse=True,
    )


def render_once(
    store: Store, customer: str, quarter: Quarter, reports: Path, notebook: Path
) -> Timing:
    timing = Timing()
    execute, export, original = (
        render_module._execute,
        render_module._export,
        render_module.NOTEBOOK,
    )
    render_module._execute = _timed("execute", timing, "execute")(execute)
    render_module._export = _timed("export", timing, "export")(export)
    render_module.NOTEBOOK = notebook
    try:
        result = render_report(
            store=store, customer=customer, quarter=quarter, reports_dir=reports,
            generated_on=quarter.end.date(),
        )  # fmt: skip
    finally:
        render_module._execute, render_module._export = execute, export
        render_module.NOTEBOOK = original
    timing.total = result.seconds
    timing.html_bytes = result.html_path.stat().st_size
    return timing


def empty_notebook(path: Path) -> Path:
    """Only the report notebook's parameters cell: what any report pays before its analysis."""
    real = nbformat.read(render_module.NOTEBOOK, as_version=4)
    parameters = next(c for c in real.cells if "parameters" in c.metadata.get("tags", []))
    notebook = nbformat.v4.new_notebook(cells=[parameters], metadata=real.metadata)
    nbformat.write(notebook, path)
    return path


def import_seconds(notebook: Path) -> float:
    """Wall time of the notebook's import statements in a fresh interpreter, less its start."""
    import ast

    statements = [
        ast.unparse(node)
        for cell in nbformat.read(notebook, as_version=4).cells
        if cell.cell_type == "code"
        for node in ast.parse(cell.source).body
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]

    def run(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - started

    return min(run("\n".join(statements)) for _ in range(2)) - min(run("pass") for _ in range(2))


def demo_store(folder: Path) -> tuple[Path, str, str]:
    store = folder / "store"
    customers = folder / "customers.yaml"
    subprocess.run(
        [Path(sys.executable).parent / "healthcheck", "demo", "--no-report", "--count", "1",
         "--end", "2026-10-01", "--store", store, "--customers", customers],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return store, Store(store).customers()[0], str(customers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", type=Path, help="a store (default: a fresh demo store)")
    parser.add_argument("--customer", help="default: the store's first customer")
    parser.add_argument("--quarter", default="2026Q3")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="hc-bench-report-") as scratch:
        folder = Path(scratch)
        if args.store is None:
            started = time.perf_counter()
            store_root, customer, customers = demo_store(folder)
            os.environ["HEALTHCHECK_CUSTOMERS"] = customers
            print(f"demo store generated in {time.perf_counter() - started:.1f} s")
        else:
            store_root = args.store
            customer = args.customer or Store(store_root).customers()[0]
        customer = args.customer or customer
        store = Store(store_root)
        quarter = Quarter.parse(args.quarter)
        reports = folder / "reports"
        real, empty = render_module.NOTEBOOK, empty_notebook(folder / "empty.ipynb")

        previous = quarter.previous()
        if previous in store.quarters(customer):
            t = render_once(store, customer, previous, reports, real)
            print(f"{previous} rendered first (untimed round): {t.total:.2f} s")
        reports_timings: list[Timing] = []
        floor_timings: list[Timing] = []
        for _ in range(args.repeat):
            reports_timings.append(render_once(store, customer, quarter, reports, real))
            floor_timings.append(render_once(store, customer, quarter, folder / "floor", empty))

    imports = import_seconds(real)
    report = min(reports_timings, key=lambda t: t.total)
    floor = min(floor_timings, key=lambda t: t.total)
    print(f"customer {customer}, {quarter}; best of {args.repeat}, seconds")
    print(f"{'':22}{'report':>9}{'floor':>9}")
    for label, attribute in (
        ("kernel start", "kernel_start"),
        ("analysis (cells)", "analysis"),
        ("kernel shutdown etc.", "shutdown"),
        ("export (nbconvert)", "export"),
        ("write", "write"),
        ("total", "total"),
    ):
        print(f"{label:22}{getattr(report, attribute):9.2f}{getattr(floor, attribute):9.2f}")
    print(f"ratio report / floor  {report.total / floor.total:9.2f}×  (target ≤ 4×)")
    shell = report.total - report.analysis
    print(f"report less its cells {shell:9.2f} s  = {shell / floor.total:.2f}× the floor")
    print(f"of the cells: the notebook's imports alone, in a fresh interpreter: {imports:.2f} s")
    print(
        f"report.html           {report.html_bytes:9,} bytes ({report.html_bytes / 2**20:.2f} MiB)"
    )
    print(f"floor report.html     {floor.html_bytes:9,} bytes")
    print("slowest cells of the best report round:")
    for seconds, first_line in (report.cells or [])[:8]:
        print(f"  {seconds:6.2f} s  {first_line[:70]}")
    all_totals = ", ".join(f"{t.total:.2f}" for t in reports_timings)
    print(
        f"report totals: {all_totals}; floor: {', '.join(f'{t.total:.2f}' for t in floor_timings)}"
    )


if __name__ == "__main__":
    main()
