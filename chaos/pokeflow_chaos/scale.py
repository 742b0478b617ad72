"""Scale test: several replicas of every role at once under constant load, the topics grown
under load, and one replica of each role SIGKILLed and another added mid-run (what a node loss
plus `kubectl scale` does to a Deployment).

    chaos/.venv/bin/python -m pokeflow_chaos.scale [--long] [--rate R] [--out DIR]

Against the local stack (scripts/stack.sh up), real processes of build/pokeflow only:
  1. topics of its own (scale-test-*, groups scale-test-*) created with 3 partitions;
  2. 2 api + 3 fraud + 3 updater + 2 reverser replicas, each with its own admin port; the api
     replicas behind a round-robin standing in for their Service (test/helm/cmd/roundrobin,
     docs/decisions.md), with a spare slot for the replica added later; the loadgen at a
     constant rate through it;
  3. `pokeflow topics grow --partitions 6` under load (keys move to new partitions);
  4. one new replica of each role started, then an older one of each SIGKILLed (--long: twice);
  5. the load stops; `pokeflow verify` must be clean, no order may have more than one transition
     in the trigger-recorded history (poke_order_transitions), and each consumer group must
     recover (lag back to normal) within the bound. Measured and reported: each group's
     rebalance pause (the longest time a partition with waiting messages made no progress) and
     time to recover after each event, the api's longest gap between acknowledged orders.

Quick (make test): 40 orders/s, about 2 minutes. --long (make chaos): 60 orders/s, two rounds.
Writes DIR/scale.json and DIR/scale.md (default chaos/reports/scale-<date>). Exit status 0 when
everything held, 1 otherwise, 2 when a prerequisite is missing.
"""
import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional

from confluent_kafka import Consumer, TopicPartition

from . import faults, paths
from .verify import verify_ledger

TOPICS = {"POKEFLOW_ORDERS_TOPIC": "scale-test-orders", "POKEFLOW_STATES_TOPIC": "scale-test-orders-state",
          "POKEFLOW_DLQ_TOPIC": "scale-test-orders-dlq"}
GROUPS = {"fraud": "scale-test-order-consumer", "updater": "scale-test-order-updater"}
# Orders live in a PostgreSQL schema of their own (PGOPTIONS search_path, as make bench does):
# the shared tables other tests read are left alone. Recreated at each start, dropped at the end.
SCHEMA = "scale_test"
GROUP_TOPIC = {"fraud": TOPICS["POKEFLOW_ORDERS_TOPIC"], "updater": TOPICS["POKEFLOW_STATES_TOPIC"]}
SERVICE_PORT = 29000        # the api's Service stand-in
API_PORT_BASE = 29001       # api replica i listens on API_PORT_BASE + i
ADMIN_PORT_BASE = 29100     # every process its own admin port
LOADGEN_ADMIN_PORT = 29099
START_REPLICAS = {"api": 2, "fraud": 3, "updater": 3, "reverser": 2}
API_SLOTS = 4               # the Service's endpoints: started replicas plus those added later
RECOVERY_BOUND_S = 90       # a group must be back to normal this long after an event


def log(msg: str) -> None:
    print(f"[scale] {msg}", file=sys.stderr, flush=True)


class Prereq(Exception):
    pass


def bootstrap() -> str:
    return os.environ.get("POKEFLOW_KAFKA_BROKERS") or faults.stack("bootstrap")


class Proc:
    def __init__(self, role: str, index: int, admin_port: int, api_port: Optional[int], popen, log_path: Path):
        self.role, self.index, self.admin_port, self.api_port = role, index, admin_port, api_port
        self.popen, self.log_path = popen, log_path
        self.started = time.time()
        self.ready_after_s: Optional[float] = None

    @property
    def name(self) -> str:
        return f"{self.role}-{self.index}"

    def alive(self) -> bool:
        return self.popen.poll() is None


class Fleet:
    """The replicas this run started; never signals anything else."""

    def __init__(self, binary: str, workdir: Path, env: dict, api_url: str = f"http://127.0.0.1:{SERVICE_PORT}"):
        self.binary, self.workdir, self.env, self.api_url = binary, workdir, env, api_url
        self.procs: List[Proc] = []
        self.next_index: Dict[str, int] = {}
        self.next_admin = ADMIN_PORT_BASE
        self.rr = None

    def start(self, role: str) -> Proc:
        i = self.next_index.get(role, 0)
        self.next_index[role] = i + 1
        admin = self.next_admin
        self.next_admin += 1
        args = [self.binary, f"--role={role}", f"--admin-port={admin}"]
        api_port = None
        if role == "api":
            if i >= API_SLOTS:
                raise Prereq(f"the Service stand-in has {API_SLOTS} api slots")
            api_port = API_PORT_BASE + i
            args.append(f"--api-port={api_port}")
        if role == "updater":
            args.append(f"--api-url={self.api_url}")
        path = self.workdir / f"{role}-{i}.log"
        with path.open("ab") as out:
            p = subprocess.Popen(args, cwd=paths.REPO, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        proc = Proc(role, i, admin, api_port, p, path)
        self.procs.append(proc)
        return proc

    def wait_ready(self, procs: List[Proc], timeout_s: float = 90) -> None:
        pending = list(procs)
        deadline = time.time() + timeout_s
        while pending:
            for p in list(pending):
                if not p.alive():
                    raise Prereq(f"{p.name} exited with {p.popen.returncode} during start: read {p.log_path}")
                if ready(p.admin_port):
                    p.ready_after_s = round(time.time() - p.started, 1)
                    pending.remove(p)
            if pending and time.time() >= deadline:
                raise Prereq(f"not ready within {timeout_s}s: {', '.join(p.name for p in pending)}")
            time.sleep(0.3)

    def live(self, role: str) -> List[Proc]:
        return [p for p in self.procs if p.role == role and p.alive()]

    def kill(self, proc: Proc) -> None:
        proc.popen.send_signal(signal.SIGKILL)
        proc.popen.wait(timeout=30)

    def start_service(self, workdir: Path) -> None:
        helm_dir = paths.REPO / "test" / "helm"
        exe = workdir / "roundrobin"
        env = dict(os.environ)
        env["GOFLAGS"] = "-mod=readonly " + env.get("GOFLAGS", "")
        cache = Path(os.environ.get("POKEFLOW_CACHE", Path.home() / ".cache" / "pokeflow"))
        env.setdefault("GOMODCACHE", str(cache / "go" / "mod"))
        env.setdefault("GOCACHE", str(cache / "go" / "build"))
        p = subprocess.run(["go", "build", "-o", str(exe), "./cmd/roundrobin"], cwd=helm_dir, env=env,
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise Prereq(f"building test/helm/cmd/roundrobin failed: {p.stderr.strip()[-500:]}")
        backends = ",".join(f"127.0.0.1:{API_PORT_BASE + i}" for i in range(API_SLOTS))
        self.rr_out = workdir / "service.log"
        with self.rr_out.open("wb") as out:
            self.rr = subprocess.Popen([str(exe), "-listen", f"127.0.0.1:{SERVICE_PORT}", "-backends", backends],
                                       stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def stop_service(self) -> Dict[str, int]:
        """Stops the round-robin; connections it gave each api slot."""
        if self.rr is None:
            return {}
        self.rr.send_signal(signal.SIGTERM)
        try:
            self.rr.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.rr.kill()
        counts = {}
        for line in self.rr_out.read_text().splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[0] == "backend":
                port = int(parts[1].rsplit(":", 1)[1])
                counts[f"api-{port - API_PORT_BASE}"] = int(parts[3])
        self.rr = None
        return counts

    def stop_all(self) -> Dict[str, Optional[int]]:
        """SIGTERM to every live replica; their exit codes (a graceful stop is 0)."""
        live = [p for p in self.procs if p.alive()]
        for p in live:
            p.popen.send_signal(signal.SIGTERM)
        codes = {}
        for p in live:
            try:
                codes[p.name] = p.popen.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.popen.kill()
                codes[p.name] = None
        return codes


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


class Sampler(threading.Thread):
    """Once a second: each group's committed offset and the log end of every partition."""

    def __init__(self, bootstrap_servers: str, interval_s: float = 1.0):
        super().__init__(daemon=True)
        self.bootstrap, self.interval = bootstrap_servers, interval_s
        self.samples: List[dict] = []
        self.stop_event = threading.Event()
        self.errors = 0

    def run(self) -> None:
        consumers = {role: Consumer({"bootstrap.servers": self.bootstrap, "group.id": g, "log_level": 3,
                                     "enable.auto.commit": False}) for role, g in GROUPS.items()}
        try:
            while not self.stop_event.is_set():
                t0 = time.time()
                point = {"t": t0}
                for role, c in consumers.items():
                    try:
                        topic = GROUP_TOPIC[role]
                        md = c.list_topics(topic, timeout=5).topics.get(topic)
                        parts = sorted(md.partitions) if md and md.error is None else []
                        committed = c.committed([TopicPartition(topic, p) for p in parts], timeout=5)
                        point[role] = {tp.partition: [tp.offset, c.get_watermark_offsets(tp, timeout=5, cached=False)[1]]
                                       for tp in committed}
                    except Exception:  # noqa: BLE001 - a sample missed is a gap, not a failure
                        self.errors += 1
                self.samples.append(point)
                self.stop_event.wait(max(0.0, self.interval - (time.time() - t0)))
        finally:
            for c in consumers.values():
                c.close()


def lag_of(point: dict, role: str) -> Optional[int]:
    parts = point.get(role)
    if not parts:
        return None
    return sum(max(0, end - (off if off >= 0 else 0)) for off, end in parts.values())


def measure(samples: List[dict], role: str, t_event: float, until: float, normal_lag: int) -> dict:
    """After an event at t_event: the rebalance pause (longest time any partition with waiting
    messages saw its committed offset stand still, which covers a dead member's session timeout
    and the rebalance) and the time until the group's lag is back to normal for 3 samples."""
    window = [s for s in samples if t_event - 1 <= s["t"] <= until and s.get(role)]
    stall_since: Dict[int, float] = {}
    pause = 0.0
    prev = None
    for s in window:
        parts = s[role]
        for p, (off, end) in parts.items():
            before = (prev or {}).get(p)
            waiting = end > max(off, 0)
            advanced = before is not None and off > before[0]
            if waiting and not advanced:
                stall_since.setdefault(p, s["t"] if before is None else prev_t)
                pause = max(pause, s["t"] - max(stall_since[p], t_event))
            else:
                stall_since.pop(p, None)
        prev, prev_t = parts, s["t"]
    # Recovered: lag back under normal for 3 samples in a row, counted from the peak (right
    # after the event the lag has not built up yet, which is not a recovery).
    after = [s for s in window if s["t"] >= t_event and lag_of(s, role) is not None]
    peak = max((lag_of(s, role) for s in after), default=0)
    if peak <= normal_lag:
        recovered_s: Optional[float] = round(pause, 1)  # never fell behind: back once it moved again
    else:
        t_peak = next(s["t"] for s in after if lag_of(s, role) == peak)
        recovered_s, streak, first_ok = None, 0, None
        for s in after:
            if s["t"] < t_peak:
                continue
            if lag_of(s, role) <= normal_lag:
                streak += 1
                first_ok = s["t"] if streak == 1 else first_ok
                if streak >= 3:
                    recovered_s = round(first_ok - t_event, 1)
                    break
            else:
                streak = 0
    return {"pause_s": round(pause, 1), "peak_lag": peak, "recovered_s": recovered_s}


def ledger_gap(ledger: Path, t_from: float, t_to: float) -> Optional[float]:
    """Longest time between two consecutive acknowledged orders within [t_from, t_to]."""
    try:
        lines = ledger.read_text().splitlines()[1:]
    except OSError:
        return None
    acked = sorted(int(l.rsplit(",", 1)[1]) / 1e6 for l in lines if l.count(",") >= 7)
    acked = [a for a in acked if t_from <= a <= t_to]
    if len(acked) < 2:
        return None
    return round(max(b - a for a, b in zip(acked, acked[1:])), 2)


def psql(sql: str, search_path: bool = True) -> str:
    """One statement through psql; in the private schema (PGOPTIONS) unless search_path=False."""
    env = dict(os.environ, PGPASSWORD=os.environ.get("POKEFLOW_PG_PASSWORD", "poke_password"))
    if not search_path:
        env["PGOPTIONS"] = ""
    p = subprocess.run(["psql", "-At", "-h", os.environ.get("POKEFLOW_PG_HOST", "127.0.0.1"),
                        "-p", os.environ.get("POKEFLOW_PG_PORT", "55432"),
                        "-U", os.environ.get("POKEFLOW_PG_USER", "poke_user"),
                        "-d", os.environ.get("POKEFLOW_PG_DATABASE", "poke_orders"), "-c", sql],
                       capture_output=True, text=True, timeout=60, env=env)
    if p.returncode != 0:
        raise Prereq(f"psql failed: {p.stderr.strip()[-300:]}")
    return p.stdout.strip()


def transitions_check(ledger: Path) -> dict:
    """From the trigger-recorded history: orders of the ledger with more than one transition
    (decided twice, or flipped after a decision) and how many have exactly one."""
    ids = []
    for l in ledger.read_text().splitlines()[1:]:
        head = l.split(",", 1)[0]
        if head.isdigit():
            ids.append(int(head))
    if not ids:
        return {"orders": 0, "one_transition": 0, "more_than_one": 0, "examples": []}
    arr = "{" + ",".join(map(str, ids)) + "}"
    rows = psql("SELECT order_id, count(*), string_agg(from_state || '>' || to_state, ' ' ORDER BY id) "
                f"FROM poke_order_transitions WHERE order_id = ANY('{arr}'::bigint[]) GROUP BY order_id")
    one, more = 0, []
    for r in filter(None, rows.splitlines()):
        oid, n, hist = r.split("|", 2)
        if int(n) == 1:
            one += 1
        else:
            more.append(f"{oid}: {hist}")
    return {"orders": len(ids), "one_transition": one, "more_than_one": len(more), "examples": more[:5]}


def pokeflow(binary: str, env: dict, *args, timeout=180) -> subprocess.CompletedProcess:
    return subprocess.run([binary, *args], cwd=paths.REPO, env=env, capture_output=True, text=True, timeout=timeout)


def run(args) -> int:
    binary = os.path.abspath(paths.pokeflow_bin())
    if not os.access(binary, os.X_OK):
        log(f"error: {binary} is missing: build pokeflow first (make build), or set POKEFLOW_BIN")
        return 2
    started = dt.datetime.now()
    wd = args.out or paths.REPO / "chaos" / "reports" / f"scale-{started.strftime('%Y-%m-%dT%H%M%S')}"
    wd.mkdir(parents=True, exist_ok=True)
    for stale in ("ledger.csv", "loadgen-summary.json"):
        (wd / stale).unlink(missing_ok=True)
    log(f"workdir {wd}")
    phase_s = {"warmup": 20, "after_grow": 40, "after_kill": 60} if args.long else \
              {"warmup": 10, "after_grow": 20, "after_kill": 35}
    rounds = 2 if args.long else 1
    os.environ["PGOPTIONS"] = f"-c search_path={SCHEMA}"  # every process below, verify and psql included
    env = dict(os.environ, **TOPICS, POKEFLOW_FRAUD_GROUP=GROUPS["fraud"], POKEFLOW_UPDATER_GROUP=GROUPS["updater"])
    # Producers notice the grown partitions within seconds rather than librdkafka's 5 minutes,
    # so keys really move during the run (consumers already refresh every 10 s).
    env["POKEFLOW_KAFKA_PROPERTY"] = "topic.metadata.refresh.interval.ms=5000"
    env.setdefault("POKEFLOW_LOG_LEVEL", "warn")
    result = {"started": started.isoformat(timespec="seconds"), "variant": "long" if args.long else "quick",
              "rate": args.rate, "replicas": dict(START_REPLICAS), "events": [], "checks": {}}
    fleet = Fleet(binary, wd, env)
    loadgen = sampler = None
    ok = True
    try:
        try:
            faults.stack("status", timeout_s=30)
        except Exception as e:  # noqa: BLE001
            raise Prereq(f"the local stack is not up (scripts/stack.sh up): {e}")
        brokers = bootstrap()
        env["POKEFLOW_KAFKA_BROKERS"] = brokers
        psql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}", search_path=False)
        # A clean start: topics and groups of earlier runs gone, then 3 partitions.
        pokeflow(binary, env, "topics", "delete")
        from .kafka import delete_groups
        delete_groups(brokers, list(GROUPS.values()))
        for _ in range(20):
            p = pokeflow(binary, env, "topics", "init", "--profile=safe", "--partitions=3")
            if p.returncode == 0:
                break
            time.sleep(2)  # deletion finishes asynchronously
        else:
            raise Prereq(f"topics init failed: {p.stderr.strip()[-400:]}")
        fleet.start_service(wd)
        first = [fleet.start(r) for r, n in START_REPLICAS.items() for _ in range(n)]
        fleet.wait_ready(first)
        result["start_ready_s"] = {p.name: p.ready_after_s for p in first}
        log(f"{len(first)} replicas ready: " + ", ".join(f"{p.name} {p.ready_after_s}s" for p in first))

        sampler = Sampler(brokers)
        sampler.start()
        ledger = wd / "ledger.csv"
        lg_args = [binary, "--role=loadgen", f"--rate={args.rate}", "--duration=1h", "--connections=8",
                   f"--api-url=http://127.0.0.1:{SERVICE_PORT}", f"--ledger={ledger}",
                   f"--summary-json={wd / 'loadgen-summary.json'}", f"--admin-port={LOADGEN_ADMIN_PORT}"]
        with (wd / "loadgen.log").open("ab") as out:
            loadgen = subprocess.Popen(lg_args, cwd=paths.REPO, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        time.sleep(phase_s["warmup"])
        normal = {role: max(int(args.rate * 3), 2 * max((lag_of(s, role) or 0) for s in sampler.samples[-5:]))
                  for role in GROUPS}
        result["normal_lag"] = normal

        t = time.time()
        p = pokeflow(binary, env, "topics", "grow", "--partitions=6")
        (wd / "grow.txt").write_text(p.stdout + p.stderr)
        result["events"].append({"event": "grow 3 -> 6 partitions", "t": t, "exit": p.returncode})
        if p.returncode != 0:
            ok = False
            log(f"topics grow failed: {p.stderr.strip()}")
        log("grew the topics to 6 partitions under load")
        time.sleep(phase_s["after_grow"])

        for rnd in range(rounds):
            # As a ReplicaSet after a node loss plus `kubectl scale`: one more replica of each
            # role comes up, and the oldest live one of each is SIGKILLed (no drain, no leave).
            t = time.time()
            killed, added = [], []
            victims = {role: fleet.live(role)[0] for role in START_REPLICAS}
            for role in START_REPLICAS:
                added.append(fleet.start(role))
            fleet.wait_ready(added)
            for role, victim in victims.items():
                fleet.kill(victim)
                killed.append(victim.name)
            ev = {"event": f"round {rnd + 1}: add one replica of each role, SIGKILL another", "t": t,
                  "killed": killed, "added": {p.name: p.ready_after_s for p in added}}
            result["events"].append(ev)
            log(f"round {rnd + 1}: added {', '.join(p.name for p in added)}; killed {', '.join(killed)}")
            time.sleep(phase_s["after_kill"])

        loadgen.send_signal(signal.SIGTERM)
        loadgen.wait(timeout=60)
        t_end = time.time()
        result["loadgen_exit"] = loadgen.returncode
        loadgen = None
        try:
            result["loadgen"] = json.loads((wd / "loadgen-summary.json").read_text())
        except (OSError, ValueError):
            result["loadgen"] = None

        # Every order settles, then the checks.
        v = verify_ledger(str(wd), binary, settle_timeout_s=120)
        result["checks"]["verify"] = {"clean": v.get("clean"), "summary": v.get("summary"),
                                      "reason": v.get("reason")}
        time.sleep(2)
        sampler.stop_event.set()
        sampler.join(timeout=15)
        with (wd / "samples.jsonl").open("w") as f:
            for point in sampler.samples:
                f.write(json.dumps(point) + "\n")
        # The grown partitions were really used (keys moved): messages on the new ones.
        last = next((s for s in reversed(sampler.samples) if all(s.get(r) for r in GROUPS)), {})
        used = {r: sorted(p for p, (_, end) in last.get(r, {}).items() if p >= 3 and end > 0) for r in GROUPS}
        result["checks"]["new_partitions_used"] = used
        if any(len(v) < 3 for v in used.values()):
            ok = False
            log(f"messages did not reach every new partition: {used}")
        tr = transitions_check(ledger)
        result["checks"]["transitions"] = tr
        ok = ok and bool(v.get("clean")) and tr["more_than_one"] == 0 and tr["orders"] > 0

        events = result["events"]
        for i, ev in enumerate(events):
            until = events[i + 1]["t"] if i + 1 < len(events) else t_end + 130
            ev["groups"] = {role: measure(sampler.samples, role, ev["t"], until, normal[role]) for role in GROUPS}
            ev["api_longest_ack_gap_s"] = ledger_gap(ledger, ev["t"] - 1, min(until, t_end))
            for role, m in ev["groups"].items():
                if m["recovered_s"] is None or m["recovered_s"] > RECOVERY_BOUND_S:
                    ok = False
                    log(f"{ev['event']}: {role} group did not recover within {RECOVERY_BOUND_S}s: {m}")
        result["sampler_errors"] = sampler.errors
    except Prereq as e:
        log(f"error: {e}")
        result["error"] = str(e)
        ok = None
    finally:
        if loadgen is not None and loadgen.poll() is None:
            loadgen.send_signal(signal.SIGTERM)
            try:
                loadgen.wait(timeout=60)
            except subprocess.TimeoutExpired:
                loadgen.kill()
        if sampler is not None:
            sampler.stop_event.set()
        result["service_connections"] = fleet.stop_service()
        result["stop_exit_codes"] = fleet.stop_all()
        try:
            psql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE", search_path=False)
        except Prereq as e:
            log(f"warning: could not drop schema {SCHEMA}: {e}")
    if ok and any(c != 0 for c in result["stop_exit_codes"].values()):
        ok = False
        log(f"a replica did not stop cleanly on SIGTERM: {result['stop_exit_codes']}")
    # Every api replica that ran behind the Service stand-in was reached through it.
    conns = result.get("service_connections") or {}
    api_names = [p.name for p in fleet.procs if p.role == "api"]
    if ok and any(conns.get(n, 0) == 0 for n in api_names):
        ok = False
        log(f"an api replica got no connection through the Service stand-in: {conns}")
    result["ok"] = ok
    (wd / "scale.json").write_text(json.dumps(result, indent=2, default=str))
    (wd / "scale.md").write_text(report_md(result))
    print(report_md(result))
    if ok is None:
        return 2
    return 0 if ok else 1


def report_md(r: dict) -> str:
    md = [f"# pokeflow scale test ({r['variant']}) — {r['started']}", "",
          f"- replicas at start: {', '.join(f'{n} {k}' for k, n in r['replicas'].items())}; "
          f"load {r['rate']} orders/s through a round-robin standing in for the api Service",
          f"- verdict: **{'PASS' if r.get('ok') else 'FAIL' if r.get('ok') is False else 'NOT RUN'}**"]
    if r.get("error"):
        md.append(f"- error: {r['error']}")
    v = (r.get("checks") or {}).get("verify")
    if v:
        s = v.get("summary") or {}
        md.append(f"- pokeflow verify: {'clean' if v.get('clean') else 'NOT clean'} "
                  f"({', '.join(f'{k} {s[k]}' for k in ('acknowledged', 'terminal', 'lost', 'flipped', 'wrong_decision', 'redeliveries', 'conflicts') if k in s)}; "
                  f"{', '.join(f'{k} {n}' for k, n in (s.get('by_state') or {}).items())}; "
                  f"finalized p99 {(s.get('finalize_ms') or {}).get('p99')} ms)"
                  + (f"; {v['reason']}" if v.get("reason") else ""))
    tr = (r.get("checks") or {}).get("transitions")
    if tr:
        md.append(f"- transition history: {tr['orders']} orders, {tr['one_transition']} with exactly one "
                  f"transition, {tr['more_than_one']} with more" +
                  (f" ({'; '.join(tr['examples'])})" if tr["examples"] else ""))
    lg = r.get("loadgen") or {}
    if lg:
        md.append(f"- loadgen: {lg.get('acknowledged')} acknowledged of {lg.get('sent')} sent, "
                  f"{lg.get('error_count')} errors {lg.get('errors')}, p99 {lg.get('latency_ms', {}).get('p99')} ms")
    if r.get("service_connections"):
        md.append(f"- connections per api replica through the Service stand-in: {r['service_connections']}")
    used = (r.get("checks") or {}).get("new_partitions_used")
    if used:
        md.append(f"- partitions added by the grow that received messages: {used}")
    md += ["", "| event | group | rebalance pause | peak lag | time to recover | api: longest gap between acks |",
           "|---|---|---|---|---|---|"]
    for ev in r.get("events", []):
        for role, m in (ev.get("groups") or {}).items():
            md.append(f"| {ev['event']} | {role} | {m['pause_s']} s | {m['peak_lag']} | "
                      f"{'not recovered' if m['recovered_s'] is None else str(m['recovered_s']) + ' s'} | "
                      f"{ev.get('api_longest_ack_gap_s')} s |")
    md += ["", "Rebalance pause: the longest time a partition with waiting messages saw its group's committed "
           "offset stand still after the event (a SIGKILLed member holds its partitions until its 10 s "
           "session times out, then the eager rebalance pauses every partition). Time to recover: until the "
           f"group's lag, past its peak, is back under {r.get('normal_lag')} (3 × the rate, or twice the lag "
           "before) for 3 s in a row. Api: the longest time between two acknowledged orders after the event."]
    return "\n".join(md) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--long", action="store_true", help="the make chaos variant: higher rate, two kill rounds")
    ap.add_argument("--rate", type=float, help="orders/s (default 40, --long 60)")
    ap.add_argument("--out", type=Path, help="report directory (default chaos/reports/scale-<date>)")
    args = ap.parse_args(argv)
    if args.rate is None:
        args.rate = 60.0 if args.long else 40.0
    if args.rate <= 0:
        log("error: --rate must be > 0")
        return 2
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
