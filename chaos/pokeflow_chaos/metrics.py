"""Prometheus text scraping: enough of the exposition format to sum a metric's series."""
import re
import time
import urllib.request
from typing import Dict, Optional

from chaoslib.exceptions import ActivityFailed

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> Dict[str, list]:
    """Metric name -> list of (labels dict, value). Comments and malformed lines are skipped."""
    out: Dict[str, list] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        labels = dict(_LABEL.findall(m.group(2) or ""))
        out.setdefault(m.group(1), []).append((labels, value))
    return out


def total(parsed: Dict[str, list], name: str, **match: str) -> Optional[float]:
    """Sum of the series of `name` whose labels include `match`; None if the metric is absent."""
    series = parsed.get(name)
    if series is None:
        return None
    return sum(v for labels, v in series if all(labels.get(k) == want for k, want in match.items()))


def buckets(parsed: Dict[str, list], name: str) -> Optional[Dict[str, float]]:
    """A histogram's cumulative buckets {le: count} (summed over its series); None if absent."""
    series = parsed.get(f"{name}_bucket")
    if series is None:
        return None
    out: Dict[str, float] = {}
    for labels, v in series:
        le = labels.get("le")
        if le is not None:
            out[le] = out.get(le, 0.0) + v
    return out


def quantile(cumulative: Dict[str, float], q: float) -> Optional[float]:
    """The q-quantile of a histogram given as cumulative buckets {le: count}, linearly
    interpolated inside the bucket (as Prometheus' histogram_quantile); None when empty.
    Observations in +Inf are reported as the highest finite bound."""
    bounds = sorted(((float("inf") if le == "+Inf" else float(le)), c) for le, c in cumulative.items())
    if not bounds or bounds[-1][1] <= 0:
        return None
    rank = q * bounds[-1][1]
    prev_bound, prev_count = 0.0, 0.0
    for bound, count in bounds:
        if count >= rank:
            if bound == float("inf"):
                return prev_bound
            if count == prev_count:
                return bound
            return prev_bound + (bound - prev_bound) * (rank - prev_count) / (count - prev_count)
        prev_bound, prev_count = bound, count
    return prev_bound


def scrape(url: str, timeout: float = 2.0) -> Dict[str, list]:
    """GET url and parse it; raises OSError (incl. URLError) when unreachable."""
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return parse(r.read().decode("utf-8", "replace"))


def wait_metric(url: str, metric: str, above: float = None, at_most: float = None,
                timeout_s: float = 120, interval_s: float = 1.0) -> dict:
    """Poll url until metric > above (or <= at_most). Returns the value and how long it took;
    raises ActivityFailed on timeout, naming the last value seen."""
    if (above is None) == (at_most is None):
        raise ActivityFailed("wait_metric needs exactly one of above / at_most")
    start = time.time()
    last: Optional[float] = None
    err = ""
    while True:
        try:
            last = total(scrape(url), metric)
            err = "" if last is not None else f"{metric} not exposed at {url}"
        except OSError as e:
            err = f"{url}: {e}"
        if last is not None and ((above is not None and last > above) or
                                 (at_most is not None and last <= at_most)):
            return {"metric": metric, "value": last, "waited_s": round(time.time() - start, 1)}
        if time.time() - start >= timeout_s:
            want = f"> {above}" if above is not None else f"<= {at_most}"
            raise ActivityFailed(f"{metric} did not become {want} within {timeout_s}s "
                                 f"(last value {last}{'; ' + err if err else ''})")
        time.sleep(interval_s)


def wait_metric_increase(url: str, metric: str, by: float = 1, timeout_s: float = 120,
                         interval_s: float = 1.0) -> dict:
    """Poll url until the counter `metric` has grown by at least `by` since the first look
    (work is being done again, e.g. the relay publishing). A gauge can freeze at a stale value
    when the loop that sets it is stuck; a counter that moves cannot. Raises ActivityFailed on
    timeout, naming the first and last values."""
    start = time.time()
    first: Optional[float] = None
    last: Optional[float] = None
    err = ""
    while True:
        try:
            last = total(scrape(url), metric)
            err = "" if last is not None else f"{metric} not exposed at {url}"
        except OSError as e:
            err = f"{url}: {e}"
        if first is None and last is not None:
            first = last
        if first is not None and last is not None and last - first >= by:
            return {"metric": metric, "from": first, "to": last, "waited_s": round(time.time() - start, 1)}
        if time.time() - start >= timeout_s:
            raise ActivityFailed(f"{metric} did not grow by {by} within {timeout_s}s "
                                 f"(from {first} to {last}{'; ' + err if err else ''})")
        time.sleep(interval_s)
