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
