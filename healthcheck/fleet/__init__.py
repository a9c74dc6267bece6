"""The fleet: every customer's quarter in one run, on a local process pool or a Dask cluster.

Per customer, in a worker: pull → recommend → check → report (`task.run_customer`), under a
per-customer lock, ending with a status file (`status.FleetStatus`, ``fleet.json`` beside the
report) that marks the quarter done and feeds the fleet index (`index.write_indexes`).

A task carries only the customer's name, the quarter and non-secret paths and flags; a worker
reads the customer's entry in customers.yaml itself and its tokens from its own environment.
"""

from healthcheck.fleet.forget import ForgetPlan, forget, plan_forget
from healthcheck.fleet.index import write_indexes
from healthcheck.fleet.runner import run_fleet
from healthcheck.fleet.status import FleetStatus, read_status
from healthcheck.fleet.task import CustomerTask, Outcome, run_customer

__all__ = [
    "CustomerTask",
    "FleetStatus",
    "ForgetPlan",
    "Outcome",
    "forget",
    "plan_forget",
    "read_status",
    "run_customer",
    "run_fleet",
    "write_indexes",
]
