"""Experiment 11: a consumer that is not pokeflow joins fraud's group, takes partitions in the
rebalance, commits past the order events it reads without deciding them, and leaves. The
order ids it swallowed are written to <workdir>/swallowed.json for the probes that follow:
right after the fault some of them must still be pending (the fault took effect), and the
reverser's re-driver must get every one decided (success or rejected, never reversed)."""
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

from chaoslib.exceptions import ActivityFailed
from confluent_kafka import Consumer, KafkaException

SWALLOWED = "swallowed.json"
TERMINAL = {"success", "rejected", "failed", "reversed"}


def _ids_file(workdir: str) -> Path:
    return Path(workdir) / SWALLOWED


def swallow_orders(bootstrap_servers: str, group_id: str, topic: str, duration_s: float = 15,
                   workdir: str = ".") -> dict:
    """Join group_id as a foreign member (same eager "range" protocol as pokeflow, so the
    group accepts it), and for duration_s commit every order event it is given without
    processing it. Leaves the group cleanly. Raises ActivityFailed if it swallowed nothing:
    a fault that hits nothing proves nothing."""
    c = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": group_id,
                  "client.id": "chaos-foreign-consumer", "partition.assignment.strategy": "range",
                  "enable.auto.commit": False, "auto.offset.reset": "latest",
                  "enable.partition.eof": False, "session.timeout.ms": 10000})
    ids, assigned, bad = [], set(), 0
    start = time.time()
    try:
        c.subscribe([topic], on_assign=lambda _c, parts: assigned.update(p.partition for p in parts))
        while time.time() - start < float(duration_s):
            msg = c.poll(0.5)
            if msg is None or msg.error():
                continue
            try:
                ids.append(int(json.loads(msg.value())["id"]))
            except (ValueError, KeyError, TypeError):
                bad += 1  # not an order event: swallowed all the same
            c.commit(message=msg, asynchronous=False)
    except KafkaException as e:
        raise ActivityFailed(f"foreign consumer in {group_id} failed: {e}") from e
    finally:
        c.close()  # leave the group: fraud gets the partitions back at our commits
    Path(workdir).mkdir(parents=True, exist_ok=True)
    _ids_file(workdir).write_text(json.dumps(sorted(set(ids))))
    if not ids:
        raise ActivityFailed(f"the foreign consumer in {group_id} got no order event in {duration_s}s "
                             f"(partitions assigned: {sorted(assigned)}): is the load running?")
    return {"group": group_id, "partitions": sorted(assigned), "swallowed": len(set(ids)),
            "non_orders": bad, "first": min(ids), "last": max(ids)}


def _state(api_url: str, order_id: int) -> str:
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/orders/{order_id}", timeout=5) as r:
            return json.loads(r.read())["state"]
    except urllib.error.HTTPError as e:
        return f"http {e.code}"
    except (OSError, ValueError, KeyError) as e:
        return f"error {e.__class__.__name__}"


def _states(api_url: str, ids) -> dict:
    out = {}
    for i in ids:
        out.setdefault(_state(api_url, i), []).append(i)
    return out


def _load_ids(workdir: str) -> list:
    try:
        return json.loads(_ids_file(workdir).read_text())
    except (OSError, ValueError) as e:
        raise ActivityFailed(f"no swallowed order ids in {_ids_file(workdir)}: {e}") from e


def swallowed_still_pending(api_url: str, workdir: str = ".", at_least: int = 1) -> dict:
    """Right after the fault: at least `at_least` swallowed orders are still pending, so fraud
    really never saw them (some may have been decided before the rebalance took them away)."""
    ids = _load_ids(workdir)
    states = _states(api_url, ids)
    pending = len(states.get("pending", []))
    counts = {k: len(v) for k, v in states.items()}
    if pending < int(at_least):
        raise ActivityFailed(f"only {pending} of {len(ids)} swallowed orders pending, wanted at "
                             f"least {at_least}: {counts}")
    return {"swallowed": len(ids), "pending": pending, "states": counts}


def wait_swallowed_decided(api_url: str, workdir: str = ".", timeout_s: float = 240,
                           interval_s: float = 3) -> dict:
    """Every swallowed order reaches success or rejected (the re-driver re-published it and
    fraud decided it) within timeout_s. A reversed or failed one fails at once: the point is
    that nothing was lost, so nothing should be reversed."""
    ids = _load_ids(workdir)
    start = time.time()
    left = list(ids)
    counts = {}
    while True:
        states = _states(api_url, left)
        wrong = {k: v[:10] for k, v in states.items() if k in ("reversed", "failed")}
        if wrong:
            raise ActivityFailed(f"swallowed orders ended {wrong} instead of being re-driven")
        for k, v in states.items():
            if k in TERMINAL:
                counts[k] = counts.get(k, 0) + len(v)
        left = [i for k, v in states.items() if k not in TERMINAL for i in v]
        if not left:
            return {"swallowed": len(ids), "states": counts, "waited_s": round(time.time() - start, 1)}
        if time.time() - start >= float(timeout_s):
            raise ActivityFailed(f"{len(left)} of {len(ids)} swallowed orders not decided within "
                                 f"{timeout_s}s (e.g. {left[:10]}; states {_states(api_url, left[:10])})")
        time.sleep(float(interval_s))
