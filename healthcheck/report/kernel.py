"""The kernel that executes report notebooks: this interpreter, over IPC sockets.

papermill would otherwise look up the notebook's kernel name (``python3``) among the kernelspecs
installed on the machine, which may point at another environment, or at none after a plain
``pip install -e .``. TCP kernels also race for free ports when many reports start at once
(papermill#511, jupyter_client#487); IPC sockets in a private folder cannot collide.

`with_environment` gives the kernel an environment of the caller's choosing (render.py passes
this process's environment without its secrets, plus where the reports are).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from traitlets import default


class ReportKernelManager(AsyncKernelManager):
    """An ipykernel of `sys.executable` whose connection file and sockets live in a temp folder.

    The folder is short (a unix socket path is limited to about 107 bytes) and is removed when
    the kernel's resources are cleaned up. IPC needs Linux or macOS.
    """

    _runtime_dir: Path | None = None
    # The kernel's whole environment; None inherits this process's, as jupyter_client does.
    kernel_env: dict[str, str] | None = None

    @classmethod
    def with_environment(cls, env: dict[str, str]) -> type[ReportKernelManager]:
        """A subclass whose kernels get exactly `env` (papermill takes a class, not an instance)."""
        return type(cls.__name__, (cls,), {"kernel_env": dict(env)})

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"

    @property
    def kernel_spec(self) -> KernelSpec:
        return KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name="healthcheck report",
            language="python",
        )

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        if self._runtime_dir is None:  # a restart keeps its folder and sockets
            self._runtime_dir = Path(tempfile.mkdtemp(prefix="hc-kernel-"))
            # Set before anything reads `ip`: the IPC socket paths derive from this file's name.
            self.connection_file = str(self._runtime_dir / "kernel.json")
        if self.kernel_env is not None:
            kw["env"] = dict(self.kernel_env)
        return await super()._async_pre_start_kernel(**kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart and self._runtime_dir is not None:
            shutil.rmtree(self._runtime_dir, ignore_errors=True)
            self._runtime_dir = None

    # AsyncKernelManager binds the public names to the base class's functions, so nbclient's
    # direct call of cleanup_resources would bypass the override above.
    cleanup_resources = _async_cleanup_resources
