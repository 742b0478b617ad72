"""Chaos Toolkit control: the background load and the timeline of one experiment run.

Declared in every experiment, so `chaos run` by hand behaves as under the runner:
  - before the experiment: start `pokeflow --role=loadgen` at a constant rate, writing the
    ledger that `pokeflow verify` checks, and a sampler thread that scrapes /metrics once a
    second into <workdir>/timeline.jsonl; then let the load run warmup_s (10 s);
  - around every activity and hypothesis: a start/end event in the timeline (the report
    shades the method's inject-*/restore-* actions as the fault window);
  - after the experiment: stop the loadgen (SIGTERM, it drains) and the sampler;
  - the fault window (first inject-* to last restore-*) is also marked on the api's /dashboard.

Chaos Toolkit calls control functions as plain module functions, so the one run's loadgen
and sampler live in module state; one `chaos run` process runs one experiment.
"""
import json
import os
import signal
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Optional

from chaoslib.exceptions import InterruptExecution

from . import metrics, paths
from .verify import count_rows

_run: dict = {}


def _event(workdir: Path, **fields) -> None:
    fields.setdefault("t", time.time())
    with (workdir / "timeline.jsonl").open("a") as f:
        f.write(json.dumps(fields) + "\n")


def parse_urls(spec: str) -> dict:
    """'api=http://h:1/metrics,fraud=http://h:2/metrics' -> {role: url}."""
    out = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        role, sep, url = part.partition("=")
        if not sep or not role or not url:
            raise ValueError(f"metrics url entry '{part}' is not ROLE=URL")
        out[role.strip()] = url.strip()
    return out


def sample(urls: dict, ledger: Path, loadgen_url: Optional[str] = None) -> dict:
    """One timeline point: acknowledged orders so far (ledger rows), and from /metrics the
    API's request count, 5xx count and outbox backlog, each consumer's summed lag, and the
    loadgen's POST latency histogram (cumulative buckets; the chart takes per-second
    quantiles from their differences). A role that does not answer is recorded as down (None),
    which the chart shows as a gap."""
    point = {"kind": "sample", "t": time.time()}
    try:
        point["acked"] = count_rows(ledger.read_bytes()) if ledger.exists() else 0
    except OSError:
        point["acked"] = None
    for role, url in urls.items():
        try:
            m = metrics.scrape(url, timeout=0.8)
        except OSError:
            point[f"{role}_up"] = False
            continue
        point[f"{role}_up"] = True
        if role == "api":
            point["api_requests"] = metrics.total(m, "http_requests_total")
            point["api_5xx"] = sum(v for labels, v in m.get("http_requests_total", [])
                                   if labels.get("status", "").startswith("5"))
            point["outbox_backlog"] = metrics.total(m, "pokeflow_outbox_backlog")
        else:
            point[f"{role}_lag"] = metrics.total(m, "pokeflow_consumer_lag")
    if loadgen_url:
        try:
            point["latency_buckets"] = metrics.buckets(metrics.scrape(loadgen_url, timeout=0.8),
                                                       "pokeflow_loadgen_latency_seconds")
        except OSError:
            pass
    return point


def _sampler(workdir: Path, urls: dict, stop: threading.Event, interval: float,
             loadgen_url: Optional[str] = None) -> None:
    ledger = workdir / "ledger.csv"
    while not stop.is_set():
        t0 = time.time()
        _event(workdir, **sample(urls, ledger, loadgen_url))
        stop.wait(max(0.0, interval - (time.time() - t0)))


def before_experiment_control(context, workdir: str, load_rate: float = 20,
                              metrics_urls: str = "", pokeflow_bin: Optional[str] = None,
                              sample_interval_s: float = 1.0, loadgen_admin_port: int = 28105,
                              warmup_s: float = 10, **kwargs) -> None:
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    for stale in ["ledger.csv", "timeline.jsonl", "loadgen-summary.json", *[
            p.name for p in wd.glob("ledger.snapshot-*.csv")]]:
        (wd / stale).unlink(missing_ok=True)
    binary = pokeflow_bin or paths.pokeflow_bin()
    args = [binary, "--role=loadgen", f"--rate={load_rate}", "--duration=3h",
            f"--ledger={wd / 'ledger.csv'}", f"--summary-json={wd / 'loadgen-summary.json'}",
            f"--admin-port={loadgen_admin_port}"]
    try:
        log = (wd / "loadgen.log").open("ab")
        proc = subprocess.Popen(args, cwd=paths.REPO, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as e:
        raise InterruptExecution(f"cannot start the loadgen ({' '.join(args)}): {e}")
    # If this `chaos run` dies without its after-experiment control, the runner stops the
    # loadgen from this file (reap_loadgen).
    (wd / "loadgen.pid").write_text(f"{proc.pid}\n")
    time.sleep(1.0)
    if proc.poll() is not None:
        raise InterruptExecution(f"the loadgen exited at once with {proc.returncode}: read {wd / 'loadgen.log'}")
    stop = threading.Event()
    try:
        urls = parse_urls(metrics_urls)
    except ValueError as e:
        proc.terminate()
        raise InterruptExecution(str(e))
    # The loadgen runs next to this control (also in the Kubernetes chaos Job's pod).
    loadgen_url = f"http://127.0.0.1:{loadgen_admin_port}/metrics"
    th = threading.Thread(target=_sampler, args=(wd, urls, stop, sample_interval_s, loadgen_url), daemon=True)
    _run.update(workdir=wd, proc=proc, log=log, stop=stop, thread=th,
                mark={"name": context.get("title") or "fault", "open": False,
                      "url": (kwargs.get("configuration") or {}).get("api_url")
                      or os.environ.get("POKEFLOW_API_URL", "http://127.0.0.1:28000"),
                      "token": os.environ.get("POKEFLOW_API_TOKEN", "pokeflow-dev-token")})
    _event(wd, kind="phase", name="experiment", phase="start", title=context.get("title"),
           load_rate=load_rate, loadgen=" ".join(args))
    th.start()
    # Steady load for a while before the first check: a baseline on the chart, and a
    # before-hypothesis that judges a loaded system rather than a starting one.
    time.sleep(warmup_s)
    if proc.poll() is not None:
        after_experiment_control(context)
        raise InterruptExecution(f"the loadgen exited during warm-up with {proc.returncode}: read {wd / 'loadgen.log'}")


def after_experiment_control(context, state=None, **kwargs) -> None:
    wd = _run.get("workdir")
    if wd is None:
        return
    proc = _run["proc"]
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if _run.get("mark", {}).get("open"):
        _dashboard_mark("end")  # an experiment without restore-* steps: the fault ends with it
    _run["stop"].set()
    _run["thread"].join(timeout=5)
    _run["log"].close()
    (wd / "loadgen.pid").unlink(missing_ok=True)
    _event(wd, kind="phase", name="experiment", phase="end", loadgen_exit=proc.returncode)
    _run.clear()


def reap_loadgen(workdir: Path, timeout_s: float = 60) -> Optional[int]:
    """Stop a loadgen left running by a `chaos run` that died before its after-experiment
    control (SIGTERM, then SIGKILL). Only a process whose command line is this workdir's
    loadgen is signalled. Returns its pid, or None when there was none."""
    f = Path(workdir) / "loadgen.pid"
    try:
        pid = int(f.read_text().strip())
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError):
        f.unlink(missing_ok=True)
        return None
    if "--role=loadgen" not in cmd or f"--ledger={Path(workdir) / 'ledger.csv'}" not in cmd:
        f.unlink(missing_ok=True)
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + timeout_s
    while Path(f"/proc/{pid}").exists() and time.time() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break  # exited; its parent (the dead chaos run) is gone, init reaps it
        except (OSError, IndexError):
            break
        time.sleep(0.2)
    else:
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)
    f.unlink(missing_ok=True)
    return pid


def _dashboard_mark(phase: str) -> None:
    """Mark the fault window on the api's /dashboard (POST /dashboard/marks, bearer token):
    start at the first inject-* activity, end after each restore-* one (the api keeps the
    latest end). Best effort: a dashboard that cannot be told never fails the experiment."""
    mark = _run.get("mark")
    if not mark:
        return
    body = urllib.parse.urlencode({"name": mark["name"], "phase": phase}).encode()
    req = urllib.request.Request(mark["url"].rstrip("/") + "/dashboard/marks", data=body, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Bearer {mark['token']}"})
    try:
        with urllib.request.urlopen(req, timeout=2) as r:
            r.read()
        mark["open"] = phase == "start"
    except (OSError, ValueError) as e:
        _event(_run["workdir"], kind="dashboard-mark", phase=phase, error=str(e))


def _activity_event(context, phase: str, state=None) -> None:
    wd = _run.get("workdir")
    if wd is None:
        return
    fields = {"kind": "activity", "phase": phase, "name": context.get("name"),
              "type": context.get("type")}
    if state is not None and isinstance(state, dict):
        fields["status"] = state.get("status")
    _event(wd, **fields)
    name = context.get("name") or ""
    if phase == "start" and name.startswith("inject-") and not _run.get("mark", {}).get("open"):
        _dashboard_mark("start")
    elif phase == "end" and name.startswith("restore-"):
        _dashboard_mark("end")


def before_activity_control(context, **kwargs) -> None:
    _activity_event(context, "start")
    if (context.get("name") or "").startswith("inject-") and _run.get("workdir"):
        _run.setdefault("first_inject_at", time.time())  # pokeflow_chaos.window.hold_fault


def after_activity_control(context, state=None, **kwargs) -> None:
    _activity_event(context, "end", state)


def before_hypothesis_control(context, **kwargs) -> None:
    if _run.get("workdir"):
        _event(_run["workdir"], kind="phase", name="hypothesis", phase="start")


def after_hypothesis_control(context, state=None, **kwargs) -> None:
    if _run.get("workdir"):
        met = state.get("steady_state_met") if isinstance(state, dict) else None
        _event(_run["workdir"], kind="phase", name="hypothesis", phase="end", met=met)


def before_method_control(context, **kwargs) -> None:
    if _run.get("workdir"):
        _event(_run["workdir"], kind="phase", name="method", phase="start")


def after_method_control(context, state=None, **kwargs) -> None:
    if _run.get("workdir"):
        _event(_run["workdir"], kind="phase", name="method", phase="end")
