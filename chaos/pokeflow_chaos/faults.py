"""Broker faults on the local stack whose target is only known at run time (the current
leader of a partition), through scripts/stack.sh. Faults with fixed targets are process
providers calling scripts/stack.sh directly in the experiments."""
import json
import subprocess

from chaoslib.exceptions import ActivityFailed

from . import paths

ACTIONS = ("kill", "stop", "pause")


def stack(*args: str, timeout_s: float = 240) -> str:
    """Run scripts/stack.sh ARGS; its stdout, or ActivityFailed with its stderr."""
    cmd = [paths.stack_script(), *map(str, args)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, cwd=paths.REPO)
    except subprocess.TimeoutExpired:
        raise ActivityFailed(f"{' '.join(cmd)} took longer than {timeout_s}s")
    if p.returncode != 0:
        raise ActivityFailed(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[-500:]}")
    return p.stdout.strip()


def _record_file():
    return paths.state_dir() / "faulted-brokers.json"


def _records() -> list:
    try:
        return json.loads(_record_file().read_text())
    except (OSError, ValueError):
        return []


def signal_partition_leader(topic: str, partition: int, action: str = "kill") -> dict:
    """Kill (SIGKILL), stop (SIGTERM) or pause (SIGSTOP) the broker leading topic/partition
    now, and record it so restore_brokers() can bring it back."""
    if action not in ACTIONS:
        raise ActivityFailed(f"action must be one of {ACTIONS}, got '{action}'")
    broker = int(stack("leader", topic, partition))
    _record_file().write_text(json.dumps(_records() + [{"broker": broker, "action": action}]))
    stack("broker", action, broker)
    return {"topic": topic, "partition": partition, "broker": broker, "action": action}


def restore_brokers() -> dict:
    """Resume the brokers recorded as paused, then start every broker that is down
    (`stack.sh up`, which waits until all are registered). Safe to call when nothing is
    faulted: it is also every broker experiment's rollback."""
    resumed = []
    records = _records()
    for r in records:
        if r["action"] == "pause":
            try:
                stack("broker", "resume", r["broker"], timeout_s=30)
                resumed.append(r["broker"])
            except ActivityFailed:
                pass  # not running any more; `up` below starts it
    stack("up")
    _record_file().unlink(missing_ok=True)
    return {"resumed": resumed, "faulted": sorted({r["broker"] for r in records})}
