"""Kubernetes helpers for the k8s variants: chaostoolkit-kubernetes terminates pods, this
waits until their replacements are ready (its probes answer once, they do not wait)."""
import time

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Secrets


def _ready(pod) -> bool:
    if pod.metadata.deletion_timestamp is not None or pod.status.phase != "Running":
        return False
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def wait_pods_ready(label_selector: str, ns: str = "default", timeout_s: float = 300,
                    min_count: int = 1, secrets: Secrets = None) -> dict:
    """Wait until at least min_count pods match and every matching pod is Ready (terminating
    ones excluded). Raises ActivityFailed on timeout, listing the pods' phases."""
    from chaosk8s import create_k8s_api_client
    from kubernetes import client

    v1 = client.CoreV1Api(create_k8s_api_client(secrets))
    start = time.time()
    while True:
        pods = [p for p in v1.list_namespaced_pod(ns, label_selector=label_selector).items
                if p.metadata.deletion_timestamp is None]
        if len(pods) >= min_count and all(_ready(p) for p in pods):
            return {"pods": [p.metadata.name for p in pods], "waited_s": round(time.time() - start, 1)}
        if time.time() - start >= timeout_s:
            raise ActivityFailed(f"pods '{label_selector}' in {ns} not ready within {timeout_s}s: "
                                 f"{[(p.metadata.name, p.status.phase) for p in pods]}")
        time.sleep(2)
