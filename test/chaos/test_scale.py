"""Unit tests of the scale test's measurements (chaos/pokeflow_chaos/scale.py): no stack."""
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "chaos"))

from pokeflow_chaos import scale  # noqa: E402


def samples(rows):
    """rows: (t, {partition: (committed, end)}) for the fraud group."""
    return [{"t": t, "fraud": {p: list(v) for p, v in parts.items()}} for t, parts in rows]


def test_pause_is_the_longest_stall_of_a_partition_with_waiting_messages():
    rows = []
    # partition 0 advances every second; partition 1 stalls from t=11 to t=21 with messages waiting
    for t in range(5, 30):
        p1 = 100 + t if t <= 11 or t >= 21 else 111
        rows.append((t, {0: (10 * t, 10 * t + 5), 1: (p1, 100 + t + 5)}))
    m = scale.measure(samples(rows), "fraud", t_event=10, until=30, normal_lag=100)
    assert m["pause_s"] == 9  # t=12..21: no progress while messages waited
    assert m["peak_lag"] == 5 + (100 + 20 + 5 - 111)
    assert m["recovered_s"] == 9  # never past normal: back when it moved again


def test_idle_partitions_are_no_pause():
    rows = [(t, {0: (50, 50), 1: (10 * t, 10 * t)}) for t in range(0, 20)]
    assert scale.measure(samples(rows), "fraud", 5, 20, 10)["pause_s"] == 0


def test_recovery_counts_from_the_peak_not_from_before_the_lag_built_up():
    # lag: 5 at the event, climbs to 500 at t=20, back under 50 from t=30 on
    lags = {t: 5 for t in range(0, 11)}
    lags.update({t: 50 * (t - 10) for t in range(11, 21)})
    lags.update({t: max(0, 500 - 60 * (t - 20)) for t in range(21, 40)})
    rows = [(t, {0: (t * 100, t * 100 + lags[t])}) for t in range(0, 40)]
    m = scale.measure(samples(rows), "fraud", t_event=10, until=40, normal_lag=50)
    assert m["peak_lag"] == 500
    assert m["recovered_s"] == 18  # 500 - 60*8 = 20 <= 50 at t=28, three in a row


def test_not_recovered_within_the_window_is_none():
    rows = [(t, {0: (t, t + 1000)}) for t in range(0, 20)]
    assert scale.measure(samples(rows), "fraud", 5, 20, 50)["recovered_s"] is None


def test_ledger_gap(tmp_path):
    ledger = tmp_path / "ledger.csv"
    rows = ["order_id,user_id,pokemon,country,price,intended_us,sent_us,acked_us"]
    for i, t in enumerate([100.0, 100.5, 101.0, 104.0, 104.2]):
        rows.append(f"{i},1,Pikachu,Chile,10,0,0,{int(t * 1e6)}")
    ledger.write_text("\n".join(rows) + "\n")
    assert scale.ledger_gap(ledger, 100, 105) == 3.0
    assert scale.ledger_gap(ledger, 104, 105) == 0.2
