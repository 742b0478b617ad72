"""HTTP checks against the pokeflow API, as the method's assertions while a fault is active."""
import json
import time
import urllib.error
import urllib.request
from typing import Optional

from chaoslib.exceptions import ActivityFailed

SAMPLE_ORDER = {"user_id": 1, "pokemon": "Pikachu", "country": "Japan", "price": 10.5}


def _request(url: str, method: str, body: Optional[dict], timeout: float) -> int:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def wait_status(url: str, status: int, method: str = "GET", body: Optional[dict] = None,
                timeout_s: float = 60, interval_s: float = 1.0) -> dict:
    """Repeat the request until it answers `status`. A POST /orders that succeeds creates a
    real order (not in the ledger: verify ignores it). Raises ActivityFailed on timeout."""
    if body is None and method == "POST":
        body = SAMPLE_ORDER
    start = time.time()
    seen = []
    while True:
        try:
            got = _request(url, method, body, timeout=5)
        except OSError as e:  # refused, reset, timed out: no HTTP status at all
            got = f"no answer ({e.__class__.__name__})"
        if not seen or seen[-1] != got:
            seen.append(got)
        if got == status:
            return {"status": got, "waited_s": round(time.time() - start, 1), "seen": seen}
        if time.time() - start >= timeout_s:
            raise ActivityFailed(f"{method} {url} never answered {status} within {timeout_s}s; "
                                 f"answers seen in order: {seen}")
        time.sleep(interval_s)


def post_orders(api_url: str, count: int = 5, expect: int = 201) -> dict:
    """POST `count` orders; every one must answer `expect` (the API keeps accepting)."""
    statuses = [_request(api_url.rstrip("/") + "/orders", "POST", SAMPLE_ORDER, timeout=10)
                for _ in range(count)]
    bad = [s for s in statuses if s != expect]
    if bad:
        raise ActivityFailed(f"POST /orders answered {statuses}, expected all {expect}")
    return {"statuses": statuses}


def _timed(url: str, method: str, body: Optional[dict], timeout: float) -> dict:
    """One request: status (None when no answer), seconds, and its Retry-After header."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            status, retry_after = r.status, r.headers.get("Retry-After")
    except urllib.error.HTTPError as e:
        status, retry_after = e.code, e.headers.get("Retry-After")
    except OSError as e:  # timed out, refused, reset: no HTTP answer
        return {"status": None, "s": round(time.monotonic() - start, 3), "error": e.__class__.__name__}
    return {"status": status, "s": round(time.monotonic() - start, 3), "retry_after": retry_after}


def judge(answers: list, allowed, deadline_s: float, min_median_ms: Optional[float] = None) -> list:
    """The violations among timed answers (see watch_requests); empty when all is well."""
    allowed = {int(a) for a in allowed}
    bad = []
    for a in answers:
        where = f"{a['method']} {a['path']}"
        if a["status"] is None:
            bad.append(f"{where}: no answer within {deadline_s}s ({a.get('error')}): the api hangs")
        elif a["s"] > deadline_s:
            bad.append(f"{where}: {a['status']} after {a['s']}s, past the {deadline_s}s deadline")
        elif a["status"] not in allowed:
            bad.append(f"{where}: {a['status']}, expected one of {sorted(allowed)}")
        elif a["status"] == 503 and not a.get("retry_after"):
            bad.append(f"{where}: 503 without Retry-After")
    if min_median_ms is not None and answers:
        times = sorted(a["s"] for a in answers if a["status"] is not None)
        median_ms = 1000 * times[len(times) // 2] if times else 0
        if median_ms < float(min_median_ms):
            bad.append(f"median answer time {median_ms:.0f} ms, expected at least {min_median_ms} ms "
                       f"(is the fault in effect?)")
    return bad


def watch_requests(api_url: str, duration_s: float, requests=None, allowed=(201,), deadline_s: float = 10,
                   interval_s: float = 1.0, min_median_ms: Optional[float] = None) -> dict:
    """For duration_s, send the requests in turn (default: POST /orders), one at a time, each
    with deadline_s to answer; then judge them all. Every answer must come within deadline_s
    (no answer at all is a hang), have a status in `allowed`, and a 503 must carry Retry-After;
    with min_median_ms the median answer time must be at least that (proof that a slowing fault
    is in effect). Raises ActivityFailed listing the violations; returns the counts and times.
    A successful POST creates a real order that is not in the ledger (verify ignores it)."""
    requests = requests or [{"method": "POST", "path": "/orders"}]
    base = api_url.rstrip("/")
    answers = []
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < float(duration_s):
        r = requests[i % len(requests)]
        i += 1
        method = r.get("method", "GET").upper()
        body = r.get("body", SAMPLE_ORDER if method == "POST" else None)
        sent = time.monotonic()
        a = _timed(base + r["path"], method, body, timeout=float(deadline_s))
        a.update(method=method, path=r["path"], at_s=round(sent - start, 1))
        answers.append(a)
        time.sleep(max(0.0, float(interval_s) - (time.monotonic() - sent)))
    bad = judge(answers, allowed, float(deadline_s), min_median_ms)
    statuses = {}
    for a in answers:
        key = str(a["status"])
        statuses[key] = statuses.get(key, 0) + 1
    times = sorted(a["s"] for a in answers)
    summary = {"requests": len(answers), "statuses": statuses,
               "median_s": times[len(times) // 2] if times else None, "max_s": times[-1] if times else None}
    if bad:
        raise ActivityFailed(f"{len(bad)} of {len(answers)} answers not as expected: " + "; ".join(bad[:8])
                             + f" (summary {summary})")
    return summary


def wait_fast(url: str, under_ms: float, timeout_s: float = 60, interval_s: float = 1.0) -> dict:
    """Repeat GET url until it answers 200 in under under_ms (a slowing fault is gone).
    Raises ActivityFailed on timeout, naming the last answers."""
    start = time.time()
    last = []
    while True:
        a = _timed(url, "GET", None, timeout=max(5.0, float(under_ms) / 1000 * 4))
        last = (last + [(a["status"], a["s"])])[-5:]
        if a["status"] == 200 and a["s"] * 1000 < float(under_ms):
            return {"waited_s": round(time.time() - start, 1), "answer_s": a["s"]}
        if time.time() - start >= float(timeout_s):
            raise ActivityFailed(f"GET {url} not answering 200 under {under_ms} ms within {timeout_s}s; "
                                 f"last (status, seconds): {last}")
        time.sleep(interval_s)
