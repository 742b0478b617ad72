"""Kafka helpers the extension lacks: waiting for a state (its probes answer once), making a
consumer group deletable, and finding a message in the dead-letter topic."""
import json
import time
import uuid

from chaoslib.exceptions import ActivityFailed
from confluent_kafka import Consumer, ConsumerGroupState, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from chaoskafka import probes as kprobes



def replicas_in_sync(bootstrap_servers: str, topic: str) -> bool:
    """True when every partition's ISR holds all its replicas. chaostoolkit-kafka 0.1.3's
    all_replicas_in_sync compares the two lists in order, and Kafka does not keep the ISR in
    replica order once a broker has rejoined (seen here: replicas [1, 2, 3], ISR [2, 3, 1]),
    so it answers False on a healthy topic after any broker restart. Same data (its
    describe_kafka_topic), compared as sets."""
    info = json.loads(kprobes.describe_kafka_topic(bootstrap_servers=bootstrap_servers, topic=topic))
    return all(set(p["isr"]) == set(p["replicas"]) for p in info["partitions_info"].values())


_WAITABLE = {
    "all_replicas_in_sync", "cluster_doesnt_have_under_replicated_partitions",
    "check_consumer_lag_under_threshold", "topic_has_no_offline_partitions", "replicas_in_sync",
}


def _probe_fn(probe: str):
    return replicas_in_sync if probe == "replicas_in_sync" else getattr(kprobes, probe)


def wait_for_probe(probe: str, timeout_s: float = 120, interval_s: float = 2, expect: bool = True,
                   **arguments) -> dict:
    """Call chaostoolkit-kafka's `probe` with `arguments` until it returns `expect`. Returns
    how long that took; raises ActivityFailed on timeout (naming the probe's last error).
    expect=False proves a fault took effect (e.g. the ISR did shrink)."""
    if probe not in _WAITABLE:
        raise ActivityFailed(f"wait_for_probe: '{probe}' is not one of {sorted(_WAITABLE)}")
    fn = _probe_fn(probe)
    start = time.time()
    last = None
    while True:
        try:
            got = fn(**arguments)
            if got is expect:
                return {"probe": probe, "result": got, "waited_s": round(time.time() - start, 1)}
            last = f"returned {got}"
        except Exception as e:  # the probe raises while the cluster is partly down; keep waiting
            last = str(e)
        if time.time() - start >= timeout_s:
            raise ActivityFailed(f"{probe}({arguments}) not {expect} within {timeout_s}s: {last}")
        time.sleep(interval_s)


def retrying(probe: str, retry_s: float = 30, **arguments):
    """chaostoolkit-kafka's `probe`, retried while it raises (for at most retry_s): while a
    broker is down its answer can be a timeout (the group coordinator or a partition leader
    moving) rather than a verdict. A verdict, True or False, is returned at once."""
    if probe not in _WAITABLE:
        raise ActivityFailed(f"retrying: '{probe}' is not one of {sorted(_WAITABLE)}")
    fn = _probe_fn(probe)
    start = time.time()
    while True:
        try:
            return fn(**arguments)
        except Exception:
            if time.time() - start >= retry_s:
                raise
        time.sleep(2)


def _admin(bootstrap_servers: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap_servers})


def group_state(bootstrap_servers: str, group_id: str) -> str:
    """The group's state name (EMPTY, STABLE, PREPARING_REBALANCE, ...; DEAD when unknown).
    Raises KafkaException when a broker did not answer (a group missing from a partial
    listing is not a dead group)."""
    admin = _admin(bootstrap_servers)  # must outlive the future: its destruction fails it
    res = admin.list_consumer_groups(request_timeout=10).result(timeout=20)
    if res.errors:
        raise KafkaException(res.errors[0])
    for g in res.valid:
        if g.group_id == group_id:
            return g.state.name
    return ConsumerGroupState.DEAD.name


def wait_group_empty(bootstrap_servers: str, group_id: str, timeout_s: float = 90) -> dict:
    """Wait until the group has no members. A member killed with SIGKILL stays until its
    session times out (librdkafka's default session.timeout.ms is 45 s), and only an empty
    group can be deleted."""
    start = time.time()
    state = "?"
    while True:
        try:
            state = group_state(bootstrap_servers, group_id)
        except Exception as e:  # KafkaException, or a timeout while the cluster is busy
            state = f"error: {e}"
        if state in ("EMPTY", "DEAD"):
            return {"group": group_id, "state": state, "waited_s": round(time.time() - start, 1)}
        if time.time() - start >= timeout_s:
            raise ActivityFailed(f"group {group_id} still not empty after {timeout_s}s (state {state})")
        time.sleep(1)


def delete_groups(bootstrap_servers: str, groups: list) -> dict:
    """Delete consumer groups that exist; a missing group is fine. For resetting topics."""
    out = {}
    admin = _admin(bootstrap_servers)
    for g, fut in admin.delete_consumer_groups(groups, request_timeout=15).items():
        try:
            fut.result(timeout=30)
            out[g] = "deleted"
        except KafkaException as e:
            if e.args[0].code() != KafkaError.GROUP_ID_NOT_FOUND:
                raise
            out[g] = "absent"
    return out


def find_message(bootstrap_servers: str, topic: str, needle: str, timeout_s: float = 60) -> dict:
    """Read `topic` from the beginning of every partition until a message value contains
    `needle`. Returns its partition, offset and headers; raises ActivityFailed on timeout.
    Used to prove a poison message reached the dead-letter topic (with which headers)."""
    c = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": f"chaos-find-{uuid.uuid4()}",
                  "enable.auto.commit": False, "enable.partition.eof": False})
    try:
        md = c.list_topics(topic, timeout=10)
        t = md.topics.get(topic)
        if t is None or t.error is not None:
            raise ActivityFailed(f"topic {topic} not available: {t.error if t else 'absent'}")
        c.assign([TopicPartition(topic, p, -2) for p in t.partitions])  # -2: OFFSET_BEGINNING
        want = needle.encode()
        start = time.time()
        seen = 0
        while time.time() - start < timeout_s:
            msg = c.poll(1.0)
            if msg is None or msg.error():
                continue
            seen += 1
            if want in (msg.value() or b""):
                headers = {k: (v.decode("utf-8", "replace") if v is not None else None)
                           for k, v in (msg.headers() or [])}
                return {"topic": topic, "partition": msg.partition(), "offset": msg.offset(),
                        "headers": headers, "waited_s": round(time.time() - start, 1)}
        raise ActivityFailed(f"no message containing {needle!r} in {topic} within {timeout_s}s "
                             f"({seen} messages read)")
    finally:
        c.close()


def group_lag(bootstrap_servers: str, group_id: str, topic: str, timeout_s: float = 10) -> list:
    """Per partition of topic: messages between the group's committed offset and the log end
    (the whole log when nothing is committed), as chaostoolkit-kafka's lag probe counts them,
    but returned as numbers."""
    c = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": group_id, "enable.auto.commit": False})
    try:
        md = c.list_topics(topic, timeout=timeout_s)
        t = md.topics.get(topic)
        if t is None or t.error is not None:
            raise KafkaException(t.error if t else KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART))
        out = []
        for p in c.committed([TopicPartition(topic, p) for p in sorted(t.partitions)], timeout=timeout_s):
            lo, hi = c.get_watermark_offsets(p, timeout=timeout_s, cached=False)
            out.append(hi - p.offset if p.offset >= 0 else hi - lo)
        return out
    finally:
        c.close()


def wait_lag(bootstrap_servers: str, group_id: str, topic: str, at_least: int = None, under: int = None,
             timeout_s: float = 120, interval_s: float = 2) -> dict:
    """Poll group_lag until some partition's lag is at least `at_least` (the group fell behind)
    or every partition's is under `under` (it caught up). Returns the lags seen over time and
    the highest; raises ActivityFailed on timeout, naming the last lags."""
    if (at_least is None) == (under is None):
        raise ActivityFailed("wait_lag needs exactly one of at_least / under")
    start = time.time()
    seen, peak, last = [], 0, None
    while True:
        try:
            last = group_lag(bootstrap_servers, group_id, topic)
            seen.append([round(time.time() - start, 1), last])
            peak = max([peak, *last])
            if (at_least is not None and max(last, default=0) >= int(at_least)) or \
                    (under is not None and all(l < int(under) for l in last)):
                return {"group": group_id, "lags": last, "peak": peak, "seen": seen[-10:],
                        "waited_s": round(time.time() - start, 1)}
        except Exception as e:  # noqa: BLE001 - a slow or partly cut cluster; keep trying
            last = f"error: {e}"
        if time.time() - start >= timeout_s:
            want = f"some partition >= {at_least}" if at_least is not None else f"every partition < {under}"
            raise ActivityFailed(f"lag of {group_id} on {topic} not {want} within {timeout_s}s "
                                 f"(last {last}, peak {peak})")
        time.sleep(interval_s)
