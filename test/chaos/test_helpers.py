"""Unit tests of the chaos suite's Python helpers (no network, no stack)."""
import json
import os
import stat
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "chaos"))

from pokeflow_chaos import api, control, metrics, net, procs, report, verify, window  # noqa: E402
from chaoslib.exceptions import ActivityFailed  # noqa: E402

import run as runner  # noqa: E402  chaos/run.py

EXPERIMENTS = sorted((REPO / "chaos" / "experiments").glob("*.yaml"))
K8S = sorted((REPO / "chaos" / "k8s").glob("*.yaml"))
MSK = sorted((REPO / "chaos" / "msk").glob("*.yaml"))


# ---------------------------------------------------------------- metrics

PROM = """# HELP http_requests_total Requests
# TYPE http_requests_total counter
http_requests_total{route="/orders",method="POST",status="201"} 10
http_requests_total{route="/orders",method="GET",status="200"} 5
pokeflow_outbox_backlog 7
pokeflow_consumer_lag{topic="poke-orders",partition="0"} 3
pokeflow_consumer_lag{topic="poke-orders",partition="1"} 4.5
weird line without value
bad_value{a="b"} notanumber
"""


def test_metrics_total_sums_matching_series():
    m = metrics.parse(PROM)
    assert metrics.total(m, "http_requests_total") == 15
    assert metrics.total(m, "http_requests_total", method="POST") == 10
    assert metrics.total(m, "pokeflow_consumer_lag") == 7.5
    assert metrics.total(m, "pokeflow_outbox_backlog") == 7
    assert metrics.total(m, "absent") is None
    assert "bad_value" not in m


def test_metrics_labels_with_escaped_quotes():
    m = metrics.parse('x{a="say \\"hi\\"",b="2"} 1\n')
    assert m["x"][0][0]["b"] == "2"


def test_wait_metric_needs_one_bound_and_times_out_on_unreachable():
    with pytest.raises(ActivityFailed, match="exactly one"):
        metrics.wait_metric("http://127.0.0.1:9/metrics", "x")
    with pytest.raises(ActivityFailed, match="did not become"):
        metrics.wait_metric("http://127.0.0.1:9/metrics", "x", above=0, timeout_s=0.5, interval_s=0.1)


# ---------------------------------------------------------------- control

def test_parse_urls():
    assert control.parse_urls("api=http://a/metrics, fraud=http://b/metrics") == {
        "api": "http://a/metrics", "fraud": "http://b/metrics"}
    assert control.parse_urls("") == {}
    with pytest.raises(ValueError, match="ROLE=URL"):
        control.parse_urls("http://a/metrics")


def test_sample_counts_ledger_and_marks_unreachable_roles_down(tmp_path):
    ledger = tmp_path / "ledger.csv"
    ledger.write_text("id,user_id,state\n1,1,pending\n2,1,pending\n3,1,pen")  # last line incomplete
    point = control.sample({"api": "http://127.0.0.1:9/metrics"}, ledger)
    assert point["acked"] == 2
    assert point["api_up"] is False and "outbox_backlog" not in point


# ---------------------------------------------------------------- verify

def test_count_rows_header_and_partial_line():
    assert verify.count_rows(b"order_id,user\n1,2\n3,4\n5,") == 2
    assert verify.count_rows(b"1,2\n3,4\n") == 2
    assert verify.count_rows(b"") == 0


def test_parse_summary_whole_or_last_json_line():
    assert verify.parse_summary('{"lost": 0}') == {"lost": 0}
    assert verify.parse_summary('checking...\n{"lost": 1, "acknowledged": 3}\n') == {"lost": 1, "acknowledged": 3}
    assert verify.parse_summary("no json") == {}


def _fake_pokeflow(tmp_path, body: str) -> str:
    """A stand-in for `pokeflow verify` whose answers the test scripts (the real binary's
    behaviour is covered by the suite's runs, not here)."""
    exe = tmp_path / "pokeflow"
    exe.write_text("#!/bin/sh\n" + body)
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return str(exe)


def test_verify_retries_until_settled(tmp_path):
    (tmp_path / "ledger.csv").write_text("id\n1\n2\n")
    counter = tmp_path / "n"
    exe = _fake_pokeflow(tmp_path, f"""n=$(cat {counter} 2>/dev/null || echo 0); echo $((n+1)) > {counter}
if [ "$n" -lt 1 ]; then echo '{{"acknowledged":2,"stuck_pending":1,"lost":0}}'; exit 1; fi
echo '{{"acknowledged":2,"terminal":2,"lost":0}}'
""")
    res = verify.verify_ledger(str(tmp_path), exe, settle_timeout_s=30)
    assert res["clean"] and res["attempts"] == 2 and res["rows"] == 2
    assert res["summary"]["terminal"] == 2 and res["clean_at"] <= time.time()
    assert Path(res["snapshot"]).read_text() == "id\n1\n2\n"


def test_verify_waits_for_in_flight_orders_that_verify_itself_passes(tmp_path):
    (tmp_path / "ledger.csv").write_text("id\n1\n2\n")
    counter = tmp_path / "n"
    exe = _fake_pokeflow(tmp_path, f"""n=$(cat {counter} 2>/dev/null || echo 0); echo $((n+1)) > {counter}
if [ "$n" -lt 2 ]; then echo '{{"acknowledged":2,"terminal":1,"in_flight":1,"ok":true}}'; exit 0; fi
echo '{{"acknowledged":2,"terminal":2,"in_flight":0,"ok":true}}'
""")
    res = verify.verify_ledger(str(tmp_path), exe, settle_timeout_s=30)
    assert res["clean"] and res["attempts"] == 3
    counter.write_text("-100")  # never settles
    res = verify.verify_ledger(str(tmp_path), exe, settle_timeout_s=4)
    assert not res["clean"] and "still pending" in res["reason"]


def test_verify_stops_at_once_on_a_permanent_violation(tmp_path):
    (tmp_path / "ledger.csv").write_text("1\n")
    exe = _fake_pokeflow(tmp_path, "echo '{\"acknowledged\":1,\"lost\":1}'; exit 1\n")
    start = time.time()
    res = verify.verify_ledger(str(tmp_path), exe, settle_timeout_s=60)
    assert not res["clean"] and res["attempts"] == 1 and "lost" in res["reason"]
    assert time.time() - start < 10


def test_verify_empty_ledger_is_not_clean(tmp_path):
    exe = _fake_pokeflow(tmp_path, "exit 0\n")
    res = verify.verify_ledger(str(tmp_path), exe, rows_timeout_s=1)
    assert not res["clean"] and "fewer than 1" in res["reason"]


def test_verify_missing_binary_fails_clearly(tmp_path):
    with pytest.raises(ActivityFailed, match="not found"):
        verify.verify_ledger(str(tmp_path), str(tmp_path / "nope"))


# ---------------------------------------------------------------- procs

def test_role_argv_uses_the_suite_ports():
    a = procs.argv("updater", "/bin/pokeflow")
    assert a[:2] == ["/bin/pokeflow", "--role=updater"]
    assert f"--admin-port={procs.ADMIN_PORTS['updater']}" in a and f"--api-url={procs.API_URL}" in a
    assert f"--api-port={procs.API_PORT}" in procs.argv("api", "x")
    with pytest.raises(ActivityFailed, match="unknown role"):
        procs.argv("nope")


def test_stale_pid_file_is_never_trusted(tmp_path, monkeypatch):
    monkeypatch.setenv("POKEFLOW_CHAOS_STATE", str(tmp_path))
    (tmp_path / "fraud.pid").write_text(f"{os.getpid()}\n")  # alive, but not a pokeflow fraud
    assert procs.pid_of("fraud") is None
    with pytest.raises(ActivityFailed, match="not running"):
        procs.kill_role("fraud")
    assert procs.stop_role("fraud") == {"role": "fraud", "pid": None}


def test_start_role_without_binary_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("POKEFLOW_CHAOS_STATE", str(tmp_path))
    monkeypatch.setenv("POKEFLOW_BIN", str(tmp_path / "missing"))
    with pytest.raises(ActivityFailed, match="missing or not executable"):
        procs.start_role("fraud")


# ---------------------------------------------------------------- report: judging journals

def _probe(name, ok=True, output=True):
    return {"activity": {"name": name, "type": "probe", "provider": {"type": "python"}},
            "status": "succeeded", "tolerance_met": ok, "output": output}


def _state(*probes):
    return {"steady_state_met": all(p["tolerance_met"] for p in probes), "probes": list(probes)}


def _journal(before=True, during=(), after=True, runs=(), status="completed", deviated=None):
    ok = _state(_probe("lag"), _probe("pokeflow-verify-clean", output={"clean": True, "summary": {"lost": 0}, "clean_at": 1000.0}))
    return {"status": status, "deviated": bool(deviated),
            "steady_states": {"before": ok if before else _state(_probe("lag", ok=False)),
                              "during": list(during),
                              "after": ok if after else _state(_probe("lag", ok=False))},
            "run": list(runs)}


def _run(name, status="succeeded", ptype="python", output=None, end="1970-01-01T00:16:30+00:00",
         start=None):
    return {"activity": {"name": name, "provider": {"type": ptype}}, "status": status,
            "output": output, "start": start or end, "end": end}


def test_evaluate_hold():
    r = report.evaluate(_journal(runs=[_run("inject-x")]))
    assert r["outcome"] == report.HELD and r["ok"]


def test_evaluate_after_deviation():
    r = report.evaluate(_journal(after=False, deviated=True))
    assert r["outcome"] == report.DEVIATED and not r["ok"] and r["failed_probes"] == ["lag"]


def test_evaluate_during_deviation_counts():
    offline = _state(_probe("orders-topic-has-no-offline-partitions", ok=False))
    r = report.evaluate(_journal(during=[offline]))
    assert r["outcome"] == report.DEVIATED and not r["ok"]
    r = report.evaluate(_journal(during=[offline]), "deviate", "orders-topic-has-no-offline-partitions")
    assert r["outcome"] == report.EXPECTED and r["ok"]


def test_evaluate_expected_deviation_through_the_wrong_probe_or_none():
    r = report.evaluate(_journal(after=False, deviated=True), "deviate", "orders-topic-has-no-offline-partitions")
    assert not r["ok"] and "not through" in r["note"]
    r = report.evaluate(_journal(), "deviate", "orders-topic-has-no-offline-partitions")
    assert r["outcome"] == report.HELD and not r["ok"]


def test_evaluate_failed_method_activity_and_nonzero_process_exit():
    r = report.evaluate(_journal(runs=[_run("api-answers-503", status="failed")]))
    assert not r["ok"] and r["method_failures"] == ["api-answers-503"]
    r = report.evaluate(_journal(runs=[_run("inject-kill", ptype="process", output={"status": 1})]))
    assert not r["ok"] and r["method_failures"] == ["inject-kill"]


def test_evaluate_not_steady_before_and_no_journal():
    assert report.evaluate(_journal(before=False))["outcome"] == report.NOT_STEADY
    assert not report.evaluate(None)["ok"]


def test_recovery_seconds_from_last_restore_to_clean_verify():
    j = _journal(runs=[_run("inject-x", end="1970-01-01T00:16:00+00:00"),
                       _run("restore-x", end="1970-01-01T00:16:30+00:00")])
    assert report.recovery_seconds(j) == 10.0  # clean_at 1000 - restore end 990


def test_recovery_seconds_from_fault_end_to_the_last_wait_probe():
    runs = [_run("inject-x", end="1970-01-01T00:16:00+00:00"),
            _run("wait-a", start="1970-01-01T00:16:01+00:00", end="1970-01-01T00:16:09+00:00", output={"waited_s": 4}),
            _run("wait-b", start="1970-01-01T00:16:09+00:00", end="1970-01-01T00:16:12+00:00", output={"waited_s": 2.5}),
            _run("after-pause", end="1970-01-01T00:17:00+00:00")]
    assert report.recovery_seconds(_journal(runs=runs)) == 11.5  # 969 + 2.5 - 960
    runs[2]["status"] = "failed"
    assert report.recovery_seconds(_journal(runs=runs)) is None


# ---------------------------------------------------------------- report: chart and files

def _timeline(wd: Path):
    t0 = 1_000_000.0
    lines = [{"kind": "phase", "name": "experiment", "phase": "start", "t": t0}]
    for i in range(60):
        lines.append({"kind": "sample", "t": t0 + i, "acked": i * 20, "api_requests": i * 21,
                      "outbox_backlog": 50 if 20 <= i < 40 else 0, "fraud_lag": 5, "updater_lag": 3})
    lines += [{"kind": "activity", "phase": "start", "name": "inject-kill-broker-2", "t": t0 + 20},
              {"kind": "activity", "phase": "end", "name": "inject-kill-broker-2", "t": t0 + 21},
              {"kind": "activity", "phase": "start", "name": "restore-start-brokers", "t": t0 + 38},
              {"kind": "activity", "phase": "end", "name": "restore-start-brokers", "t": t0 + 40}]
    (wd / "timeline.jsonl").write_text("\n".join(json.dumps(l) for l in lines) + "\n")


def test_fault_window_spans_first_inject_to_last_restore(tmp_path):
    _timeline(tmp_path)
    _, events = report.load_timeline(tmp_path / "timeline.jsonl")
    w = report.fault_windows(events)
    assert w[0] == (1_000_020.0, 1_000_040.0, "fault") and w[1][2] == "inject-kill-broker-2"


def test_summarize_and_write_report(tmp_path):
    wd = tmp_path / "04-two-brokers-down"
    wd.mkdir()
    _timeline(wd)
    (wd / "journal.json").write_text(json.dumps(_journal(runs=[_run("restore-x")])))
    res = report.summarize(wd, {"id": "04-two-brokers-down", "file": "04-two-brokers-down.yaml"})
    assert res["ok"] and res["chart"] == "timeline.png"
    assert (wd / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md, html = report.write(tmp_path, [res], {"started": "now", "target": "local", "rate": 20})
    assert "04-two-brokers-down/timeline.png" in md.read_text() and "PASS" in md.read_text()
    assert "<img src='04-two-brokers-down/timeline.png'" in html.read_text()


# ---------------------------------------------------------------- the experiment files themselves

@pytest.mark.parametrize("path", EXPERIMENTS + K8S + MSK, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_experiment_shape(path):
    e = yaml.safe_load(path.read_text())
    probes = [p["name"] for p in e["steady-state-hypothesis"]["probes"]]
    assert "pokeflow-verify-clean" in probes, "verify is part of every hypothesis"
    assert e["runtime"]["rollbacks"]["strategy"] == "always", "a deviation must not skip the rollbacks"
    assert e["controls"][0]["provider"]["module"] == "pokeflow_chaos.control", "the load runs throughout"
    assert any(a["name"].startswith("inject-") for a in e["method"]), "the report marks inject-* as the fault"
    conf = e["configuration"]
    assert all(isinstance(v, dict) and v.get("type") == "env" and "default" in v for v in conf.values()), \
        "every setting comes from the environment, with a local default"
    for a in e["method"] + e.get("rollbacks", []):
        if a["provider"]["type"] == "process":
            assert a["provider"]["path"] == "scripts/stack.sh" and "timeout" in a["provider"]


def test_k8s_variants_fault_through_chaostoolkit_kubernetes():
    for path in K8S:
        e = yaml.safe_load(path.read_text())
        assert not [a for a in e["method"] if a["provider"]["type"] == "process"], path.name
        mods = {a["provider"].get("module") for a in e["method"]}
        if "toxiproxy" in e["tags"]:  # network faults through the chart's Toxiproxy Service
            assert "chaostoxi.toxic.actions" in mods and e["configuration"]["toxiproxy_host"]["key"] == "CHAOS_TOXIPROXY_HOST"
            assert "127.0.0.1" not in path.read_text(), path.name
        elif path.name != "01-poison-message.yaml":
            assert "chaosk8s.pod.actions" in mods, path.name


def test_runner_plan_matches_files():
    for e in runner.PLAN:
        assert (REPO / "chaos" / "experiments" / e["file"]).exists()
    for e in runner.K8S_PLAN:
        assert (REPO / "chaos" / "k8s" / e["file"]).exists()
    for e in runner.MSK_PLAN:
        assert (REPO / "chaos" / "msk" / e["file"]).exists()
    quick = {e["id"][:2] for e in runner.PLAN if e.get("quick")}
    # make test: 8 and 9 are the network faults that catch hangs.
    assert {"01", "02", "04", "08", "09"} <= quick and not {"07", "10", "11"} & quick
    seed = [e for e in runner.PLAN if e.get("expect") == "deviate"]
    assert len(seed) == 1 and seed[0]["topics"] == "seed" and runner.PLAN.index(seed[0]) == 0
    assert {f"{i:02}" for i in range(1, 12)} <= {e["id"][:2] for e in runner.PLAN}
    # Every experiment file is in the plan (a file the runner never runs is dead).
    assert {p.name for p in EXPERIMENTS} <= {e["file"] for e in runner.PLAN}


def test_evaluate_offline_partition_seen_by_the_method_is_the_expected_deviation():
    down = json.dumps({"topic": "poke-orders", "partitions_info": {"0": {"leader": -1, "isr": []},
                                                                   "1": {"leader": 2, "isr": [2]}}})
    seen = _run("describe-orders-topic-while-down", output=down)
    r = report.evaluate(_journal(runs=[seen]), "deviate", "orders-topic-has-no-offline-partitions")
    assert r["outcome"] == report.EXPECTED and r["ok"] and "partition(s) 0 offline" in r["note"]
    # Everything led: no offline partition anywhere, so the expected deviation did not happen.
    healthy = _run("describe-orders-topic-while-down", output={"partitions_info": {"0": {"leader": 3}}})
    r = report.evaluate(_journal(runs=[healthy]), "deviate", "orders-topic-has-no-offline-partitions")
    assert r["outcome"] == report.HELD and not r["ok"]
    # For a run that must hold, the method's describe output is information; the hypothesis decides.
    assert report.evaluate(_journal(runs=[seen]))["ok"]


# ---------------------------------------------------------------- network faults (07-10)

NETWORK = [p for p in EXPERIMENTS if "toxiproxy" in yaml.safe_load(p.read_text()).get("tags", [])]


def test_network_experiments_use_toxiproxy_and_always_heal():
    assert {p.name[:2] for p in NETWORK} == {"07", "08", "09", "10"}
    for path in NETWORK:
        e = yaml.safe_load(path.read_text())
        conf = e["configuration"]
        assert {"toxiproxy_host", "toxiproxy_port"} <= set(conf), path.name
        modules = {a["provider"].get("module") for a in e["method"]}
        # The faults come from chaostoolkit-toxiproxy, directly or through pokeflow_chaos.net.
        assert modules & {"chaostoxi.toxic.actions", "pokeflow_chaos.net"}, path.name
        # Whatever happens, the rollback removes every fault (chaostoxi's reset).
        assert any(r["provider"].get("module") == "chaostoxi.proxy.actions" and r["provider"]["func"] == "reset"
                   for r in e["rollbacks"]), path.name
        assert any(a["name"].startswith("restore-") for a in e["method"]), path.name
        assert any(a["name"].startswith("wait-") for a in e["method"]), path.name


def test_blackhole_experiment_demands_503_with_retry_after_within_the_deadline():
    e = yaml.safe_load((REPO / "chaos/experiments/08-postgres-blackhole.yaml").read_text())
    watch = next(a for a in e["method"] if a["name"] == "api-answers-503-within-its-deadline")
    assert watch["provider"]["func"] == "watch_requests" and watch["provider"]["arguments"]["allowed"] == [503]
    streams = {a["provider"]["arguments"].get("stream") for a in e["method"] if a["name"].startswith("inject-")}
    assert streams == {"upstream", "downstream"}


def test_judge_flags_hangs_late_answers_wrong_statuses_and_bare_503s():
    ok = {"method": "POST", "path": "/orders", "status": 503, "s": 1.2, "retry_after": "1"}
    assert api.judge([ok], [503], 5) == []
    hung = {**ok, "status": None, "s": 5.0, "error": "TimeoutError"}
    late = {**ok, "s": 6.0}
    wrong = {**ok, "status": 500}
    bare = {**ok, "retry_after": None}
    bad = api.judge([hung, late, wrong, bare], [503], 5)
    assert len(bad) == 4 and "hangs" in bad[0] and "deadline" in bad[1] and "500" in bad[2] and "Retry-After" in bad[3]
    fast = {**ok, "status": 201, "s": 0.01}
    assert "median" in api.judge([fast, fast, fast], [201], 5, min_median_ms=300)[0]
    assert api.judge([{**fast, "s": 0.35}] * 3, [201], 5, min_median_ms=300) == []


def test_watch_requests_against_a_real_socket_that_never_answers():
    import socket
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)  # accepts (kernel backlog) but never answers: a hung api
    try:
        with pytest.raises(ActivityFailed, match="hangs"):
            api.watch_requests(f"http://127.0.0.1:{srv.getsockname()[1]}", duration_s=0.5, allowed=[503],
                               deadline_s=0.5, interval_s=0.1)
    finally:
        srv.close()


def test_histogram_buckets_and_quantiles():
    m = metrics.parse('lat_bucket{le="0.1"} 50\nlat_bucket{le="0.5"} 90\nlat_bucket{le="+Inf"} 100\n'
                      'lat_sum 20\nlat_count 100\n')
    b = metrics.buckets(m, "lat")
    assert b == {"0.1": 50, "0.5": 90, "+Inf": 100}
    assert metrics.quantile(b, 0.5) == pytest.approx(0.1)
    assert metrics.quantile(b, 0.7) == pytest.approx(0.3)
    assert metrics.quantile(b, 0.99) == pytest.approx(0.5)  # in +Inf: the highest finite bound
    assert metrics.quantile({"0.1": 0, "+Inf": 0}, 0.5) is None
    assert metrics.buckets(m, "absent") is None


def test_latency_quantiles_per_interval_from_cumulative_samples():
    samples = [{"t": 0, "latency_buckets": {"0.1": 10, "1": 10, "+Inf": 10}},
               {"t": 1, "latency_buckets": {"0.1": 20, "1": 20, "+Inf": 20}},  # 10 fast ones
               {"t": 2},                                                       # loadgen not scraped
               {"t": 3, "latency_buckets": {"0.1": 20, "1": 30, "+Inf": 30}}]  # 10 slow ones
    xs, ys = report.latency_quantiles(samples)
    assert xs == [1, 3]
    assert ys[0.5][0] <= 0.1 and ys[0.5][1] > 0.1


def _snap(leaders, isr=None, coord=None):
    parts = {"poke-orders": {str(p): {"leader": l, "replicas": [1, 2, 3], "isr": (isr or {}).get(p, [1, 2, 3])}
                             for p, l in leaders.items()}}
    return {"partitions": parts, "coordinators": coord or {}}


def test_compare_leadership():
    before = _snap({0: 2, 1: 3, 2: 1})
    c = net.compare_leadership(before, _snap({0: 2, 1: 3, 2: 1}))
    assert c == {"moved": {}, "unchanged": 3, "out_of_isr": {}}
    c = net.compare_leadership(before, _snap({0: 3, 1: 3, 2: 1}, isr={0: [1, 3]}))
    assert c["moved"] == {"poke-orders/0": [2, 3]} and c["out_of_isr"] == {"poke-orders/0": [2]}


def test_leadership_note_in_the_report():
    runs = [_run("leadership-before", output=_snap({0: 2, 1: 3}, coord={"g": 2})),
            _run("inject-cut-leader", output={"broker": 2}),
            _run("leadership-during-fault", output=_snap({0: 2, 1: 3})),
            _run("leadership-after", output=_snap({0: 3, 1: 3}))]
    note = report.leadership_note(_journal(runs=runs))
    assert "broker 2 was hit; it led poke-orders/0 and coordinated g" in note
    assert "during-fault: no partition changed leader; every replica in sync" in note
    assert "after: leadership moved (poke-orders/0 2→3)" in note
    assert report.leadership_note(_journal()) is None
    res_obs = report.observations(_journal(runs=runs))
    assert res_obs == [note]


def test_measured_notes_state_what_the_method_saw():
    runs = [_run("api-answers-503", output={"requests": 5, "statuses": {"503": 4, "None": 1}, "median_s": 5.0, "max_s": 10.0}),
            _run("fraud-lag-rises", output={"group": "g", "lags": [3, 30, 2], "peak": 30, "waited_s": 6.0}),
            _run("failed-one", status="failed", output={"requests": 1, "statuses": {}})]
    runs[2]["exception"] = ["Traceback ...\n", "chaoslib.exceptions.ActivityFailed: 1 of 5 answers: the api hangs\n"]
    notes = report.measured_notes(_journal(runs=runs))
    assert notes == ["api-answers-503: 5 requests (503×4, None×1), median 5.0 s, max 10.0 s",
                     "fraud-lag-rises: g lag per partition [3, 30, 2] (peak 30) after 6.0 s",
                     "failed-one failed: 1 of 5 answers: the api hangs"]


def test_slow_links_refuses_a_zero_rate():
    with pytest.raises(ActivityFailed, match="unlimited"):
        net.slow_links(["kafka-1"], 0)


def test_hold_fault_waits_until_the_window_ends(monkeypatch):
    monkeypatch.setitem(control._run, "first_inject_at", time.time() - 0.3)
    start = time.time()
    out = window.hold_fault(0.6)
    assert 0.2 <= time.time() - start < 0.6 and out["since_inject_s"] >= 0.6
    assert window.hold_fault(0.1)["held_s"] == 0  # already past
    monkeypatch.delitem(control._run, "first_inject_at")
    assert window.hold_fault(0.05)["held_s"] == 0.05


# ---------------------------------------------------------------- the MSK variant of 02

def test_msk_variant_reboots_through_chaostoolkit_aws_and_keeps_02s_hypothesis():
    assert [p.name for p in MSK] == ["02-broker-reboot.yaml"]
    msk = yaml.safe_load(MSK[0].read_text())
    local = yaml.safe_load((REPO / "chaos/experiments/02-broker-reboot.yaml").read_text())
    inject = [a for a in msk["method"] if a["name"].startswith("inject-")]
    assert [(a["provider"]["module"], a["provider"]["func"]) for a in inject] == [
        ("chaosaws.msk.actions", "reboot_msk_broker")]
    assert inject[0]["provider"]["arguments"] == {"cluster_arn": "${msk_cluster_arn}", "broker_ids": "${msk_broker_ids}"}
    assert msk["configuration"]["msk_cluster_arn"]["key"] == "CHAOS_MSK_CLUSTER_ARN"
    assert msk["configuration"]["msk_broker_ids"]["env_var_type"] == "json"
    # The same hypothesis as the local 02 (the original's offline-partition check and verify).
    assert msk["steady-state-hypothesis"] == local["steady-state-hypothesis"]
    assert msk["runtime"]["hypothesis"]["strategy"] == "continuously"


def test_wait_cluster_active_sees_the_reboot_through(monkeypatch):
    from pokeflow_chaos import msk
    states = iter(["ACTIVE", "REBOOTING_BROKER", "REBOOTING_BROKER", "ACTIVE"])
    monkeypatch.setattr(msk, "_state", lambda arn, c, s: next(states))
    out = msk.wait_cluster_active("arn:x", interval_s=0)
    assert out["states"] == ["ACTIVE", "REBOOTING_BROKER", "ACTIVE"] and out["reboot_seen"]
    monkeypatch.setattr(msk, "_state", lambda arn, c, s: "FAILED")
    with pytest.raises(ActivityFailed, match="FAILED"):
        msk.wait_cluster_active("arn:x", interval_s=0)
    monkeypatch.setattr(msk, "_state", lambda arn, c, s: "REBOOTING_BROKER")
    with pytest.raises(ActivityFailed, match="not ACTIVE again"):
        msk.wait_cluster_active("arn:x", timeout_s=0.05, interval_s=0.01)
    with pytest.raises(ActivityFailed, match="CHAOS_MSK_CLUSTER_ARN"):
        msk.wait_cluster_active("")


def test_wait_metric_increase_needs_the_counter_to_move(tmp_path):
    import http.server
    import threading
    values = iter([5, 5, 7, 30] + [30] * 100)

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = f"c_total {next(values)}\n".encode()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_port}/metrics"
        out = metrics.wait_metric_increase(url, "c_total", by=20, timeout_s=5, interval_s=0.01)
        assert out["from"] == 5 and out["to"] == 30
        with pytest.raises(ActivityFailed, match="did not grow by 1"):
            metrics.wait_metric_increase(url, "c_total", by=1, timeout_s=0.2, interval_s=0.01)
    finally:
        srv.shutdown()


def test_group_coordinator_partition_matches_kafka():
    # Java: "poke-order-consumer".hashCode() etc.; Kafka: Utils.abs(hash) % partitions.
    assert net.java_string_hash("") == 0
    assert net.java_string_hash("a") == 97
    assert net.java_string_hash("hello") == 99162322
    assert net.java_string_hash("polygenelubricants") == -2147483648  # Integer.MIN_VALUE
    assert net.offsets_partition("polygenelubricants", 50) == 0
    assert net.offsets_partition("hello", 12) == 99162322 % 12
    # A negative hash: Math.abs, not a sign-bit mask (checked against a live cluster's
    # DescribeGroups: order-updater lives on __consumer_offsets partition 6 of 12).
    assert net.java_string_hash("order-updater") == -1655694006
    assert net.offsets_partition("order-updater", 12) == 6


def test_reap_loadgen_stops_only_this_workdirs_loadgen(tmp_path):
    import subprocess
    wd = tmp_path / "wd"
    wd.mkdir()
    # Stand-ins whose command lines look like the control's loadgen (this workdir's, another's).
    p = subprocess.Popen(["python3", "-c", "import time; time.sleep(60)", "--role=loadgen",
                          f"--ledger={wd / 'ledger.csv'}"])
    other = subprocess.Popen(["python3", "-c", "import time; time.sleep(60)", "--role=loadgen",
                              "--ledger=/elsewhere/ledger.csv"])
    try:
        # Until exec completes, /proc/<pid>/cmdline is pytest's own: wait for the stand-ins'.
        for proc in (p, other):
            deadline = time.time() + 10
            while b"--role=loadgen" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
                assert time.time() < deadline, "a stand-in never started"
                time.sleep(0.01)
        (wd / "loadgen.pid").write_text(f"{other.pid}\n")
        assert control.reap_loadgen(wd) is None and other.poll() is None  # not ours: untouched
        (wd / "loadgen.pid").write_text(f"{p.pid}\n")
        assert control.reap_loadgen(wd, timeout_s=10) == p.pid
        assert p.wait(timeout=10) is not None and not (wd / "loadgen.pid").exists()
        assert control.reap_loadgen(wd) is None
    finally:
        for proc in (p, other):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_wait_lag_needs_one_bound_and_names_the_last_lags(monkeypatch):
    from pokeflow_chaos import kafka
    with pytest.raises(ActivityFailed, match="exactly one"):
        kafka.wait_lag("b", "g", "t")
    seq = iter([[0, 1, 0], [3, 30, 2], [0, 0, 0]])
    monkeypatch.setattr(kafka, "group_lag", lambda b, g, t: next(seq))
    out = kafka.wait_lag("b", "g", "t", at_least=25, interval_s=0)
    assert out["lags"] == [3, 30, 2] and out["peak"] == 30
    assert kafka.wait_lag("b", "g", "t", under=5, interval_s=0)["lags"] == [0, 0, 0]
    monkeypatch.setattr(kafka, "group_lag", lambda b, g, t: [1, 2, 3])
    with pytest.raises(ActivityFailed, match=r"not some partition >= 25 .*last \[1, 2, 3\], peak 3"):
        kafka.wait_lag("b", "g", "t", at_least=25, timeout_s=0.05, interval_s=0.01)


# ---------------------------------------------------------------- dashboard marks

def test_fault_window_is_marked_on_the_dashboard(tmp_path, monkeypatch):
    sent = []

    class Answer:
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def read(self):
            return b"{}"

    def fake_urlopen(req, timeout):
        sent.append((req.full_url, req.get_header("Authorization"), req.data.decode()))
        return Answer()

    monkeypatch.setattr(control.urllib.request, "urlopen", fake_urlopen)
    monkeypatch.setenv("POKEFLOW_API_TOKEN", "tok")
    control._run.clear()
    control._run.update(workdir=tmp_path, mark={"name": "two brokers", "open": False,
                                                "url": "http://api:1/", "token": "tok"})
    try:
        control.before_activity_control({"name": "api-answers-reads"})
        control.before_activity_control({"name": "inject-kill-broker-2"})
        control.before_activity_control({"name": "inject-kill-broker-3"})  # already open: no second start
        control.after_activity_control({"name": "restore-start-brokers"})
        assert sent == [("http://api:1/dashboard/marks", "Bearer tok", "name=two+brokers&phase=start"),
                        ("http://api:1/dashboard/marks", "Bearer tok", "name=two+brokers&phase=end")]
        # An unreachable api is written to the timeline, never raised.
        monkeypatch.setattr(control.urllib.request, "urlopen",
                            lambda req, timeout: (_ for _ in ()).throw(OSError("refused")))
        control.before_activity_control({"name": "inject-again"})
        events = [json.loads(line) for line in (tmp_path / "timeline.jsonl").read_text().splitlines()]
        assert any(e.get("kind") == "dashboard-mark" and "refused" in e.get("error", "") for e in events)
    finally:
        control._run.clear()
