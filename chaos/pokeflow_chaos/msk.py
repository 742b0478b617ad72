"""Amazon MSK helpers for chaos/msk: chaostoolkit-aws reboots a broker and describes the
cluster once; this waits until the reboot is over (the cluster ACTIVE again)."""
import time

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets


def _state(cluster_arn: str, configuration: Configuration, secrets: Secrets) -> str:
    from chaosaws.msk.probes import describe_msk_cluster
    return describe_msk_cluster(cluster_arn, configuration=configuration, secrets=secrets)["ClusterInfo"]["State"]


def wait_cluster_active(cluster_arn: str, timeout_s: float = 1800, seen_busy_within_s: float = 120,
                        interval_s: float = 10, configuration: Configuration = None,
                        secrets: Secrets = None) -> dict:
    """After reboot_msk_broker: wait (up to seen_busy_within_s) for the cluster to leave ACTIVE
    (MSK reports REBOOTING_BROKER), then until it is ACTIVE again. A reboot MSK finished
    before the first look is fine (it is only noted). Raises ActivityFailed on timeout or when
    the cluster ends up FAILED."""
    if not cluster_arn:
        raise ActivityFailed("no cluster ARN: set CHAOS_MSK_CLUSTER_ARN")
    start = time.time()
    states, busy = [], False
    while True:
        state = _state(cluster_arn, configuration, secrets)
        if not states or states[-1] != state:
            states.append(state)
        if state == "FAILED":
            raise ActivityFailed(f"MSK cluster {cluster_arn} is FAILED (states seen: {states})")
        busy = busy or state != "ACTIVE"
        waited = time.time() - start
        if state == "ACTIVE" and (busy or waited >= float(seen_busy_within_s)):
            return {"states": states, "waited_s": round(waited, 1), "reboot_seen": busy}
        if waited >= float(timeout_s):
            raise ActivityFailed(f"MSK cluster {cluster_arn} not ACTIVE again within {timeout_s}s (states seen: {states})")
        time.sleep(float(interval_s))
