"""What a replica buys: the end-to-end rate and CPU per order with 1, 2 and 3 replicas of fraud
and updater (one api, one reverser, the same 6 partitions each step).

    chaos/.venv/bin/python bench/replicas.py [--rate R] [--seconds S] [--replicas 1,2,3] [--out DIR]

Against the local stack (scripts/stack.sh up) with build/pokeflow, one step per replica count,
each on fresh topics and groups of its own (bench-replicas-<n>-*): the loadgen offers R orders/s
(open model, default 1000) for S seconds (default 15), then the step waits until every
acknowledged order is terminal. It reports per step:
  - end-to-end rate: acknowledged orders / (last transition - first acknowledgement);
  - CPU per order: CPU seconds (user + system, /proc) of each pokeflow process, of this stack's
    PostgreSQL (postmaster and backends), its 3 Kafka brokers and Toxiproxy, over the step,
    divided by the orders finalized; and the machine's load average, since on a shared machine
    other work competes for the same cores.
Writes DIR/replicas-<stamp>.json and .md (default bench/results). Never fails on speed: exit 0
when every step finalized its orders, 1 when one did not, 2 on a missing prerequisite.
"""
import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "chaos"))

from pokeflow_chaos import paths  # noqa: E402
from pokeflow_chaos.scale import Fleet, Prereq, bootstrap, psql  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
API_PORT = 29001


def log(msg: str) -> None:
    print(f"[bench-replicas] {msg}", file=sys.stderr, flush=True)


def cpu_s(pid: int) -> float:
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / TICK  # utime, stime
    except (OSError, IndexError, ValueError):
        return 0.0


def stack_pids() -> dict:
    """This worktree's stack: PostgreSQL (postmaster and its children), brokers, Toxiproxy."""
    marker = str(REPO / ".stack")
    out = {"postgresql": [], "kafka": [], "toxiproxy": []}
    procs = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        procs[int(d.name)] = (ppid, cmd)
    for pid, (ppid, cmd) in procs.items():
        if marker not in cmd:
            continue
        if "postgres" in cmd:
            out["postgresql"].append(pid)
            out["postgresql"] += [c for c, (pp, _) in procs.items() if pp == pid]
        elif "java" in cmd:
            out["kafka"].append(pid)
        elif "toxiproxy" in cmd:
            out["toxiproxy"].append(pid)
    return out


def step(binary: str, env: dict, n: int, rate: float, seconds: float, wd: Path) -> dict:
    topics = {"POKEFLOW_ORDERS_TOPIC": f"bench-replicas-{n}-orders",
              "POKEFLOW_STATES_TOPIC": f"bench-replicas-{n}-orders-state",
              "POKEFLOW_DLQ_TOPIC": f"bench-replicas-{n}-orders-dlq"}
    env = dict(env, **topics, POKEFLOW_FRAUD_GROUP=f"bench-replicas-{n}-fraud",
               POKEFLOW_UPDATER_GROUP=f"bench-replicas-{n}-updater")
    subprocess.run([binary, "topics", "delete"], env=env, cwd=REPO, capture_output=True, timeout=120)
    p = subprocess.run([binary, "topics", "init", "--profile=safe", "--partitions=6"], env=env, cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise Prereq(f"topics init failed: {p.stderr.strip()[-300:]}")
    sd = wd / f"step-{n}"
    sd.mkdir(parents=True, exist_ok=True)
    fleet = Fleet(binary, sd, env, api_url=f"http://127.0.0.1:{API_PORT}")
    roles = ["api", "reverser"] + ["fraud"] * n + ["updater"] * n
    procs = [fleet.start(r) for r in roles]
    try:
        fleet.wait_ready(procs)
        time.sleep(3)  # the groups settle their first assignment
        stack = stack_pids()
        watched = {p.name: [p.popen.pid] for p in procs}
        watched.update(stack)
        before = {k: sum(cpu_s(x) for x in v) for k, v in watched.items()}
        t0, load0 = time.time(), os.getloadavg()[0]
        ledger = sd / "ledger.csv"
        lg = subprocess.run([binary, "--role=loadgen", f"--rate={rate}", f"--duration={seconds}s",
                             "--connections=16", f"--api-url=http://127.0.0.1:{API_PORT}", f"--ledger={ledger}",
                             f"--summary-json={sd / 'loadgen-summary.json'}", "--admin-port=0"],
                            env=env, cwd=REPO, capture_output=True, text=True, timeout=seconds + 120)
        ids = [int(l.split(",", 1)[0]) for l in ledger.read_text().splitlines()[1:] if l[:1].isdigit()]
        if not ids:
            raise Prereq(f"the loadgen acknowledged nothing: {lg.stderr.strip()[-300:]}")
        lo, hi = min(ids), max(ids)
        first_ack = min(int(l.rsplit(",", 1)[1]) for l in ledger.read_text().splitlines()[1:] if l[:1].isdigit()) / 1e6
        deadline = time.time() + 180
        while True:
            terminal = int(psql(f"SELECT count(*) FROM poke_orders WHERE id BETWEEN {lo} AND {hi} "
                                f"AND state <> 'pending'") or 0)
            if terminal >= len(ids) or time.time() >= deadline:
                break
            time.sleep(1)
        t1, load1 = time.time(), os.getloadavg()[0]
        after = {k: sum(cpu_s(x) for x in v) for k, v in watched.items()}
        last = float(psql(f"SELECT extract(epoch FROM max(at)) FROM poke_order_transitions "
                          f"WHERE order_id BETWEEN {lo} AND {hi}") or 0)
        cpu = {k: round(after[k] - before[k], 2) for k in watched}
        by_role = {}
        for p in procs:
            by_role[p.role] = round(by_role.get(p.role, 0) + cpu[p.name], 2)
        for k in stack:
            by_role[k] = cpu[k]
        finalized = max(terminal, 1)
        return {"replicas": n, "offered_rate": rate, "seconds": seconds, "acknowledged": len(ids),
                "finalized": terminal, "all_finalized": terminal >= len(ids),
                "e2e_rate": round(len(ids) / max(last - first_ack, 1e-3), 1),
                "window_s": round(t1 - t0, 1), "cpu_s": by_role,
                "cpu_ms_per_order": {k: round(1000 * v / finalized, 3) for k, v in by_role.items()},
                "cpu_ms_per_order_total": round(1000 * sum(by_role.values()) / finalized, 3),
                "loadavg_1m": [round(load0, 2), round(load1, 2)],
                "loadgen": json.loads((sd / "loadgen-summary.json").read_text())
                if (sd / "loadgen-summary.json").exists() else None}
    finally:
        fleet.stop_all()
        subprocess.run([binary, "topics", "delete"], env=env, cwd=REPO, capture_output=True, timeout=120)


def report_md(r: dict) -> str:
    md = [f"# pokeflow: what a fraud/updater replica buys — {r['started']}", "",
          f"One api, one reverser, n fraud and n updater replicas, 6 partitions, {r['rate']} orders/s offered "
          f"for {r['seconds']} s per step. CPU per order in ms (user + system); load average = the "
          f"machine's 1-minute load at the start and end of the step ({os.cpu_count()} cores; other work on "
          "the machine competes for them).", "",
          "| fraud + updater replicas | e2e rate (orders/s) | finalized | api | fraud | updater | reverser | "
          "PostgreSQL | Kafka | Toxiproxy | total ms/order | load average |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in r["steps"]:
        c = s["cpu_ms_per_order"]
        md.append(f"| {s['replicas']} + {s['replicas']} | {s['e2e_rate']} | {s['finalized']}/{s['acknowledged']} | "
                  + " | ".join(str(c.get(k, "")) for k in ("api", "fraud", "updater", "reverser", "postgresql",
                                                            "kafka", "toxiproxy"))
                  + f" | {s['cpu_ms_per_order_total']} | {s['loadavg_1m'][0]} → {s['loadavg_1m'][1]} |")
    return "\n".join(md) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--rate", type=float, default=1000, help="orders/s offered (default 1000: past what 2 cores finalize)")
    ap.add_argument("--seconds", type=float, default=15, help="seconds of load per step (default 15)")
    ap.add_argument("--replicas", default="1,2,3")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = ap.parse_args(argv)
    try:
        counts = [int(x) for x in args.replicas.split(",") if x.strip()]
    except ValueError:
        log(f"error: --replicas '{args.replicas}' is not a comma list of numbers")
        return 2
    if not counts or min(counts) < 1 or max(counts) > 6 or args.rate <= 0 or args.seconds <= 0:
        log("error: --replicas must be 1 to 6 (6 partitions), --rate and --seconds > 0")
        return 2
    binary = os.path.abspath(paths.pokeflow_bin())
    if not os.access(binary, os.X_OK):
        log(f"error: {binary} is missing: make build, or set POKEFLOW_BIN")
        return 2
    started = dt.datetime.now()
    stamp = started.strftime("%Y-%m-%dT%H%M%S")
    wd = Path(f"/tmp/pokeflow-bench-replicas-{stamp}")
    args.out.mkdir(parents=True, exist_ok=True)
    # A PostgreSQL schema of its own (as make bench): the shared tables other tests read stay small.
    os.environ["PGOPTIONS"] = "-c search_path=bench_replicas"
    env = dict(os.environ, POKEFLOW_LOG_LEVEL="warn")
    try:
        env["POKEFLOW_KAFKA_BROKERS"] = bootstrap()
        psql("DROP SCHEMA IF EXISTS bench_replicas CASCADE; CREATE SCHEMA bench_replicas", search_path=False)
        result = {"started": started.isoformat(timespec="seconds"), "rate": args.rate, "seconds": args.seconds,
                  "cores": os.cpu_count(), "steps": []}
        for n in counts:
            log(f"step: {n} fraud + {n} updater")
            s = step(binary, env, n, args.rate, args.seconds, wd)
            log(f"  e2e {s['e2e_rate']} orders/s, {s['cpu_ms_per_order_total']} ms CPU/order, "
                f"finalized {s['finalized']}/{s['acknowledged']}, load {s['loadavg_1m']}")
            result["steps"].append(s)
    except Prereq as e:
        log(f"error: {e}")
        return 2
    finally:
        try:
            psql("DROP SCHEMA IF EXISTS bench_replicas CASCADE", search_path=False)
        except Prereq:
            pass
    (args.out / f"replicas-{stamp}.json").write_text(json.dumps(result, indent=2))
    (args.out / f"replicas-{stamp}.md").write_text(report_md(result))
    print(report_md(result))
    return 0 if all(s["all_finalized"] for s in result["steps"]) else 1


if __name__ == "__main__":
    sys.exit(main())
