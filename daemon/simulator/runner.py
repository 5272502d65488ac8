"""Start and stop a simulated cluster in-process, and write a kubeconfig for it."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import yaml

from daemon.simulator.cluster import Cluster
from daemon.simulator.cluster_file import ClusterFile, load_cluster_file
from daemon.simulator.faults import FaultState, Stats
from daemon.simulator.server import SimServer
from daemon.simulator.services import ServiceListener, start_listeners


class SimulatedCluster:
    """`with SimulatedCluster(spec) as sim:` gives `sim.url`, `sim.kubeconfig`, `sim.cluster`."""

    def __init__(
        self,
        spec: ClusterFile,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        kubeconfig: Path | None = None,
        seed: int | None = None,
    ):
        self.spec = spec
        self.cluster = Cluster(spec, seed=seed)
        self.faults = FaultState(spec.faults, seed=self.cluster.seed)
        self.stats = Stats()
        self._host, self._port = host, port
        self._kubeconfig_path = kubeconfig
        self.server: SimServer | None = None
        self.listeners: list[ServiceListener] = []
        self._thread: threading.Thread | None = None

    @classmethod
    def from_file(cls, path: Path, **kwargs: Any) -> SimulatedCluster:
        return cls(load_cluster_file(path), **kwargs)

    @property
    def url(self) -> str:
        assert self.server is not None, "not started"
        host, port = self.server.server_address[:2]
        return f"http://{_text(host)}:{port}"

    @property
    def kubeconfig(self) -> Path:
        assert self._kubeconfig_path is not None, "not started"
        return self._kubeconfig_path

    @property
    def token(self) -> str:
        return self.spec.admin_token

    def start(self) -> SimulatedCluster:
        self.cluster.bootstrap()
        self.server = SimServer((self._host, self._port), self.cluster, self.faults, self.stats)
        self.listeners = start_listeners(self.cluster)
        self.server.service_urls = {f"{s.namespace}/{s.name}": s.url for s in self.listeners}
        self.cluster.start()
        self._thread = threading.Thread(
            target=self.server.serve_forever,
            name="sim-api",
            daemon=True,
            kwargs={"poll_interval": 0.1},
        )
        self._thread.start()
        if self._kubeconfig_path is None:
            import tempfile

            self._kubeconfig_path = Path(tempfile.mkdtemp(prefix="aftershock-sim-")) / "kubeconfig"
        write_kubeconfig(self._kubeconfig_path, self.url, self.token)
        return self

    def stop(self) -> None:
        self.faults.drop_watches()
        for listener in self.listeners:
            listener.shutdown()
            listener.server_close()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        self.cluster.stop()

    def service_url(self, namespace: str, name: str) -> str:
        assert self.server is not None
        return self.server.service_urls[f"{namespace}/{name}"]

    def __enter__(self) -> SimulatedCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _text(value: str | bytes | bytearray) -> str:
    return bytes(value).decode() if isinstance(value, bytes | bytearray) else value


def write_kubeconfig(path: Path, url: str, token: str, name: str = "aftershock-sim") -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": url}}],
        "users": [{"name": f"{name}-admin", "user": {"token": token}}],
        "contexts": [
            {
                "name": name,
                "context": {"cluster": name, "user": f"{name}-admin", "namespace": "default"},
            }
        ],
        "current-context": name,
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
