"""Run the chaos suite and write its report.

    chaos/.venv/bin/python chaos/run.py [--quick] [--only ID ...] [--rate R] [--out DIR]
    chaos/.venv/bin/python chaos/run.py --target k8s      (inside the cluster: the chaos Job)
    chaos/.venv/bin/python chaos/run.py --target msk      (against Amazon MSK: chaos/README.md)
    chaos/.venv/bin/python chaos/run.py --list

Locally it brings the stack up (scripts/stack.sh up), prepares the topics, starts the
pokeflow roles from build/pokeflow on the suite's own ports when they are not running,
runs each experiment with `chaos run`, repairs the stack between experiments, and writes
chaos/reports/<date>/<experiment>/journal.json plus report.md and report.html.
Exit status: 0 when every experiment is as it must be (held, or the expected deviation),
1 otherwise, 2 on bad usage or a missing prerequisite.
"""
import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

try:
    from pokeflow_chaos import faults, kafka, paths, procs, report
except ImportError as e:  # run with a Python that lacks the suite's requirements
    sys.exit(f"[chaos] error: {e}: run with the chaos venv (scripts/chaos-venv.sh, then chaos/.venv/bin/python)")

REPO = paths.REPO

# The suite. 02 runs twice: on the seed's fragile topics it must deviate through the offline
# partition, after `pokeflow topics fix` it must hold. Order matters: the seed run first.
PLAN = [
    {"id": "02-broker-reboot-seed-topics", "file": "02-broker-reboot.yaml", "topics": "seed",
     "expect": "deviate", "expect_probe": "orders-topic-has-no-offline-partitions", "quick": True},
    {"id": "02-broker-reboot-after-fix", "file": "02-broker-reboot.yaml", "topics": "fix", "quick": True},
    {"id": "01-poison-message", "file": "01-poison-message.yaml", "topics": "safe", "quick": True},
    {"id": "03-frozen-leader", "file": "03-frozen-leader.yaml", "topics": "safe"},
    {"id": "04-two-brokers-down", "file": "04-two-brokers-down.yaml", "topics": "safe", "quick": True},
    {"id": "05-consumers-disrupted", "file": "05-consumers-disrupted.yaml", "topics": "safe"},
    {"id": "06-postgres-restart", "file": "06-postgres-restart.yaml", "topics": "safe"},
    # Network faults through the local stack's Toxiproxy (scripts/stack.sh net, docs/stack.md).
    # 08 and 09 are the ones that catch hangs: they run in make test too.
    {"id": "07-postgres-latency", "file": "07-postgres-latency.yaml", "topics": "safe"},
    {"id": "08-postgres-blackhole", "file": "08-postgres-blackhole.yaml", "topics": "safe", "quick": True},
    {"id": "09-broker-cut-off", "file": "09-broker-cut-off.yaml", "topics": "safe", "quick": True},
    {"id": "10-slow-kafka-link", "file": "10-slow-kafka-link.yaml", "topics": "safe"},
    # A foreign member of fraud's group commits past orders; the reverser's re-driver heals
    # them. About 3 min (it waits out --redrive-after), so not in --quick.
    {"id": "11-foreign-consumer", "file": "11-foreign-consumer.yaml", "topics": "safe"},
]
K8S_PLAN = [
    {"id": "01-poison-message", "file": "01-poison-message.yaml", "quick": True},
    {"id": "02-broker-reboot", "file": "02-broker-reboot.yaml", "quick": True},
    {"id": "04-two-brokers-down", "file": "04-two-brokers-down.yaml", "quick": True},
    {"id": "05-consumers-disrupted", "file": "05-consumers-disrupted.yaml"},
    {"id": "06-postgres-restart", "file": "06-postgres-restart.yaml"},
    # Through the chart's Toxiproxy (chaos.toxiproxy.enabled sets CHAOS_TOXIPROXY_HOST).
    {"id": "07-postgres-latency", "file": "07-postgres-latency.yaml", "needs": "CHAOS_TOXIPROXY_HOST"},
    {"id": "08-postgres-blackhole", "file": "08-postgres-blackhole.yaml", "needs": "CHAOS_TOXIPROXY_HOST"},
]
# Against a real Amazon MSK cluster (chaostoolkit-aws); chaos/README.md says how.
MSK_PLAN = [
    {"id": "02-broker-reboot-msk", "file": "02-broker-reboot.yaml", "quick": True},
]
PLANS = {"local": (PLAN, "experiments"), "k8s": (K8S_PLAN, "k8s"), "msk": (MSK_PLAN, "msk")}
EXPERIMENT_TIMEOUT_S = 20 * 60


def log(msg: str) -> None:
    print(f"[chaos] {msg}", file=sys.stderr, flush=True)


class Prereq(Exception):
    """A missing prerequisite: the run cannot start."""


def sh(args, timeout=300, check=True, **kw) -> subprocess.CompletedProcess:
    p = subprocess.run([str(a) for a in args], cwd=REPO, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise Prereq(f"{' '.join(map(str, args))} failed ({p.returncode}): {(p.stderr or p.stdout).strip()[-800:]}")
    return p


def pokeflow(*args, timeout=180, check=True):
    return sh([paths.pokeflow_bin(), *args], timeout=timeout, check=check)


def bootstrap() -> str:
    return os.environ.get("POKEFLOW_KAFKA_BROKERS") or faults.stack("bootstrap")


def prepare_topics(mode: str, run_dir: Path) -> None:
    """seed: the seed's topics from scratch (poke-orders replication 1); fix: raise them in
    place; safe: make sure all topics exist with replication 3."""
    log(f"topics: {mode}")
    if mode == "seed":
        # The roles stop first: a topic deleted under a running consumer or relay is recreated
        # by auto-creation or leaves a stale position behind.
        procs.stop_roles()
        pokeflow("topics", "delete")
        groups = [os.environ.get("POKEFLOW_FRAUD_GROUP", "poke-order-consumer"),
                  os.environ.get("POKEFLOW_UPDATER_GROUP", "order-updater")]
        kafka.delete_groups(bootstrap(), groups)
        # Topic deletion finishes asynchronously; creating the same name too early fails.
        for attempt in range(20):
            p = pokeflow("topics", "init", "--profile=seed", check=False)
            if p.returncode == 0:
                break
            time.sleep(2)
        else:
            raise Prereq(f"pokeflow topics init --profile=seed kept failing: {p.stderr.strip()[-500:]}")
    elif mode == "fix":
        pokeflow("topics", "fix", timeout=600)
    else:
        pokeflow("topics", "init", "--profile=safe")
        pokeflow("topics", "fix", timeout=600)  # topics left by an earlier seed run
    procs.ensure_roles()
    described = pokeflow("topics", "describe", "--groups", check=False)
    (run_dir / f"topics-{mode}.txt").write_text(described.stdout + described.stderr)


def repair_local() -> None:
    """Whatever an experiment left broken (a failed rollback, a crash) is put right so the
    next experiment starts from a healthy system."""
    try:
        faults.stack("net", "heal")
        faults.restore_brokers()
        faults.stack("pg", "start")
        procs.ensure_roles()
    except Exception as e:  # noqa: BLE001 - reported; the next experiment's before-check decides
        log(f"warning: repair after the experiment failed: {e}")


def run_experiment(entry: dict, exp_dir: Path, run_dir: Path, args) -> None:
    wd = run_dir / entry["id"]
    wd.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")])),
               CHAOS_WORKDIR=str(wd), CHAOS_LOAD_RATE=str(args.rate))
    if args.target == "local":
        env.update(POKEFLOW_BIN=paths.pokeflow_bin(), POKEFLOW_API_URL=procs.API_URL,
                   CHAOS_METRICS_URLS=",".join(f"{r}={u}" for r, u in procs.metrics_urls().items()),
                   CHAOS_API_METRICS_URL=procs.metrics_urls()["api"])
    frequency = "3"
    if entry.get("expect") == "deviate":
        # The hypothesis is also checked during the fault, one check at a time. A check that
        # starts before Kafka has fenced the killed broker (about 9 s) passes the offline
        # probe and then blocks in the lag probes and verify's settle wait, possibly for the
        # whole outage, so the offline partition is never looked at. Spacing the checks past
        # the fencing time and a short settle make sure one check lands inside the outage.
        env.setdefault("CHAOS_SETTLE_S", "5")
        frequency = "12"
    cmd = [str(Path(sys.executable).parent / "chaos"), "--log-file", str(wd / "chaostoolkit.log"),
           "run", "--journal-path", str(wd / "journal.json"), "--rollback-strategy", "always",
           "--hypothesis-frequency", frequency, str(exp_dir / entry["file"])]
    log(f"{entry['id']}: {' '.join(cmd[-1:])} (expect: {entry.get('expect', 'hold')})")
    with (wd / "chaos.out").open("w") as out:
        try:
            subprocess.run(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                           timeout=EXPERIMENT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log(f"{entry['id']}: killed after {EXPERIMENT_TIMEOUT_S}s")
    # A chaos run that crashed or was killed never ran its after-experiment control.
    from pokeflow_chaos.control import reap_loadgen
    if (pid := reap_loadgen(wd)) is not None:
        log(f"{entry['id']}: stopped the loadgen (pid {pid}) the chaos run left behind")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="experiments 1, 2 (both runs), 4, 8 and 9 only")
    ap.add_argument("--only", nargs="+", metavar="ID", help="run these plan ids (prefixes work: 01 03)")
    ap.add_argument("--target", choices=tuple(PLANS), default=os.environ.get("CHAOS_TARGET", "local"))
    ap.add_argument("--rate", type=float, default=float(os.environ.get("CHAOS_LOAD_RATE", 20)),
                    help="loadgen orders/s during each experiment (default 20)")
    ap.add_argument("--out", type=Path, help="report directory (default chaos/reports/<date>)")
    ap.add_argument("--list", action="store_true", help="print the plan and exit")
    args = ap.parse_args(argv)

    plan, sub = PLANS[args.target]
    plan, exp_dir = list(plan), HERE / sub
    if args.quick:
        plan = [e for e in plan if e.get("quick")]
    for e in [e for e in plan if e.get("needs") and not os.environ.get(e["needs"])]:
        log(f"{e['id']}: skipped, {e['needs']} is not set (see chaos/README.md)")
        plan.remove(e)
    if args.only:
        plan = [e for e in plan if any(e["id"].startswith(p) for p in args.only)]
        if not plan:
            log(f"error: no experiment matches {args.only}; see --list")
            return 2
    if args.list:
        for e in plan:
            print(f"{e['id']:32} {e['file']:30} expect {e.get('expect', 'hold')}")
        return 0
    if args.rate <= 0:
        log("error: --rate must be > 0")
        return 2

    started = dt.datetime.now()
    run_dir = args.out or HERE / "reports" / started.strftime("%Y-%m-%dT%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    log(f"report directory: {run_dir}")
    try:
        if args.target == "local":
            binary = paths.pokeflow_bin()
            if not os.access(binary, os.X_OK):
                raise Prereq(f"{binary} is missing: build pokeflow first (make build), or set POKEFLOW_BIN")
            log("stack: scripts/stack.sh up")
            faults.stack("up", timeout_s=300)
    except Prereq as e:
        log(f"error: {e}")
        return 2

    # Roles this run starts are stopped at its end; ones that were running are left running.
    running_before = {r for r in procs.ROLES if procs.pid_of(r)} if args.target == "local" else set()
    results, topics_mode = [], None
    for entry in plan:
        try:
            if args.target == "local" and entry["topics"] != topics_mode:
                prepare_topics(entry["topics"], run_dir)
                topics_mode = entry["topics"]
            elif args.target == "local":
                procs.ensure_roles()
        except Exception as e:  # noqa: BLE001 - the experiment cannot run; say why, go on
            log(f"{entry['id']}: setup failed: {e}")
            (run_dir / entry["id"]).mkdir(exist_ok=True)
            (run_dir / entry["id"] / "setup-error.txt").write_text(str(e) + "\n")
            topics_mode = None
        else:
            run_experiment(entry, exp_dir, run_dir, args)
            if args.target == "local":
                repair_local()
        res = report.summarize(run_dir / entry["id"], entry)
        results.append(res)
        log(f"{entry['id']}: {res['outcome']} ({'as it must be' if res['ok'] else 'NOT as it must be'})")

    if args.target == "local":
        procs.stop_roles([r for r in procs.ROLES if r not in running_before])
    meta = {"started": started.isoformat(timespec="seconds"), "target": args.target, "rate": args.rate}
    (run_dir / "summary.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2, default=str))
    md, html_ = report.write(run_dir, results, meta)
    latest = run_dir.parent / "latest"
    if run_dir.parent == HERE / "reports":
        tmp = run_dir.parent / ".latest.tmp"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(run_dir.name)
        tmp.replace(latest)
    bad = [r for r in results if not r["ok"]]
    for r in results:
        print(f"{r['id']:32} {r['outcome']:28} {'ok' if r['ok'] else 'FAIL'}")
    print(f"report: {md}\n        {html_}")
    print(f"{len(results) - len(bad)} passed, {len(bad)} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
