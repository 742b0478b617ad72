"""Network faults through Toxiproxy (chaostoolkit-toxiproxy) whose target is only known at run
time or spans several proxies, and the Kafka leadership snapshots that say whether a fault
moved leadership.

The local stack (scripts/stack.sh) names its proxies `pg` and `kafka-1`..`kafka-3`; every
client connection to PostgreSQL and to each broker's client listener goes through them, while
replication and the KRaft quorum stay direct (docs/stack.md). Faults with a fixed target are
plain chaostoolkit-toxiproxy actions in the experiments; these helpers call the same actions.
"""
import json
import time
from typing import List, Optional

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration

from . import faults

# Toxic names this suite creates; `scripts/stack.sh net heal` and chaostoxi's reset remove
# them like any other.
CUT = "pokeflow-cut"
SLOW = "pokeflow-slow"


def broker_proxy(broker: int) -> str:
    return f"kafka-{int(broker)}"


def _toxic(proxy: str, name: str, toxic_type: str, stream: str, attributes: dict,
           configuration: Configuration) -> None:
    from chaostoxi.toxic.actions import create_toxic
    try:
        ok = create_toxic(for_proxy=proxy, toxic_name=name, toxic_type=toxic_type, stream=stream,
                          attributes=attributes, configuration=configuration)
    except TypeError:  # chaostoxi indexes the API's answer, which is None when it refused
        ok = False
    if not ok:
        raise ActivityFailed(f"Toxiproxy refused the {toxic_type} toxic '{name}' on proxy {proxy} "
                             f"(does the proxy exist? is a toxic of that name already there?)")


def cut_proxy(proxy: str, configuration: Configuration = None) -> dict:
    """Black-hole one proxy: connections stay open and new ones are accepted, but no byte
    passes either way (Toxiproxy's timeout toxic with timeout 0, on both streams)."""
    for stream in ("upstream", "downstream"):
        _toxic(proxy, f"{CUT}-{stream}", "timeout", stream, {"timeout": 0}, configuration)
    return {"proxy": proxy, "cut_at": time.time()}


def cut_partition_leader(topic: str, partition: int = 0, configuration: Configuration = None) -> dict:
    """Cut the broker leading topic/partition off from every client (its proxy black-holed);
    it keeps replicating and heartbeating to the controller over its direct listeners."""
    broker = int(faults.stack("leader", topic, partition))
    out = cut_proxy(broker_proxy(broker), configuration)
    return {"topic": topic, "partition": partition, "broker": broker, **out}


def slow_links(proxies: List[str], rate_kb_s: int, latency_ms: int = 0, jitter_ms: int = 0,
               streams: str = "downstream", configuration: Configuration = None) -> dict:
    """A slow link on each proxy: every connection limited to rate_kb_s KB/s in `streams`
    ("downstream": server to client, where fetch responses flow; "upstream"; or "both"), and
    replies delayed by latency_ms +- jitter_ms."""
    if isinstance(proxies, str):
        proxies = [p.strip() for p in proxies.split(",") if p.strip()]
    if int(rate_kb_s) <= 0:
        raise ActivityFailed("rate_kb_s must be > 0 (Toxiproxy treats 0 as unlimited)")
    directions = {"downstream": ("downstream",), "upstream": ("upstream",), "both": ("upstream", "downstream")}
    if streams not in directions:
        raise ActivityFailed(f"streams must be one of {sorted(directions)}, got '{streams}'")
    for p in proxies:
        for stream in directions[streams]:
            _toxic(p, f"{SLOW}-bandwidth-{stream}", "bandwidth", stream, {"rate": int(rate_kb_s)}, configuration)
        if int(latency_ms) or int(jitter_ms):
            _toxic(p, f"{SLOW}-latency", "latency", "downstream",
                   {"latency": int(latency_ms), "jitter": int(jitter_ms)}, configuration)
    return {"proxies": list(proxies), "rate_kb_s": int(rate_kb_s), "streams": streams,
            "latency_ms": int(latency_ms), "jitter_ms": int(jitter_ms)}


# ---------------------------------------------------------------- leadership

def java_string_hash(s: str) -> int:
    """Java's String.hashCode (UTF-16 code units, 32-bit wrap-around), as Kafka hashes group ids."""
    h = 0
    data = s.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + int.from_bytes(data[i:i + 2], "big")) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def offsets_partition(group: str, partitions: int) -> int:
    """The __consumer_offsets partition whose leader coordinates `group` (Kafka's
    Utils.abs(groupId.hashCode) % offsets.topic.num.partitions; Utils.abs maps
    Integer.MIN_VALUE to 0)."""
    h = java_string_hash(group)
    return (0 if h == -(1 << 31) else abs(h)) % partitions


def leadership(bootstrap_servers: str, topics, groups=(), timeout_s: float = 20) -> dict:
    """Who leads each partition of `topics` (and its ISR), and which broker coordinates each
    consumer group (the leader of its __consumer_offsets partition), from one cluster metadata
    request. Works while one broker is cut off: the client asks a broker that answers, and no
    request is left in flight to the cut one (an admin request pending there when the client
    is destroyed crashed librdkafka's Python client, so coordinators are derived, not asked).
    Raises ActivityFailed when no broker answers in time."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    if isinstance(topics, str):
        topics = [t.strip() for t in topics.split(",") if t.strip()]
    if isinstance(groups, str):
        groups = [g.strip() for g in groups.split(",") if g.strip()]
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    try:
        md = admin.list_topics(timeout=timeout_s)
    except KafkaException as e:
        raise ActivityFailed(f"no cluster metadata from {bootstrap_servers} within {timeout_s}s: {e}")
    out = {"at": time.time(), "brokers": sorted(md.brokers), "partitions": {}, "coordinators": {}}
    for t in topics:
        tm = md.topics.get(t)
        if tm is None or tm.error is not None:
            out["partitions"][t] = {"error": str(tm.error if tm else "absent")}
            continue
        out["partitions"][t] = {str(p): {"leader": pm.leader, "replicas": list(pm.replicas), "isr": list(pm.isrs)}
                                for p, pm in sorted(tm.partitions.items())}
    offsets = md.topics.get("__consumer_offsets")
    for g in groups:
        if offsets is None or not offsets.partitions:
            out["coordinators"][g] = "unknown (no __consumer_offsets metadata)"
            continue
        out["coordinators"][g] = offsets.partitions[offsets_partition(g, len(offsets.partitions))].leader
    return out


def leaders_of(snapshot: dict) -> dict:
    """{'topic/partition': leader} of a leadership() snapshot (partitions with errors skipped)."""
    out = {}
    for t, parts in (snapshot or {}).get("partitions", {}).items():
        if not isinstance(parts, dict) or "error" in parts:
            continue
        for p, info in parts.items():
            if isinstance(info, dict) and "leader" in info:
                out[f"{t}/{p}"] = info["leader"]
    return out


def compare_leadership(before: Optional[dict], later: Optional[dict]) -> dict:
    """Which partitions changed leader between two snapshots, and which broker left an ISR."""
    a, b = leaders_of(before), leaders_of(later)
    moved = {k: [a[k], b[k]] for k in sorted(a) if k in b and a[k] != b[k]}
    shrunk = {}
    for t, parts in (later or {}).get("partitions", {}).items():
        for p, info in (parts or {}).items() if isinstance(parts, dict) else []:
            if isinstance(info, dict) and set(info.get("isr", [])) != set(info.get("replicas", [])):
                shrunk[f"{t}/{p}"] = sorted(set(info["replicas"]) - set(info["isr"]))
    return {"moved": moved, "unchanged": sum(1 for k in a if k in b and a[k] == b[k]), "out_of_isr": shrunk}


def describe(snapshot: dict) -> str:
    """One line for logs and the report."""
    return json.dumps({"leaders": leaders_of(snapshot), "coordinators": snapshot.get("coordinators", {})})
