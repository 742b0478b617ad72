"""`pokeflow verify` as a steady-state probe under running load.

The loadgen keeps appending to the ledger, so a check of the live file always finds orders
acknowledged a moment ago and still pending. The probe therefore verifies a snapshot (the
complete lines at probe time) and retries until every order in it is settled or the settle
timeout passes. Violations that time cannot heal (lost, flipped, wrong decision, duplicates)
end the wait at once."""
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Optional

from chaoslib.exceptions import ActivityFailed

from . import paths

PERMANENT = ("lost", "flipped", "wrong_decision", "corrupted", "duplicates", "ledger_duplicates")


def snapshot(ledger: Path, dest: Path) -> int:
    """Copy the complete lines of ledger to dest; returns the number of data rows."""
    data = ledger.read_bytes()
    data = data[: data.rfind(b"\n") + 1]
    dest.write_bytes(data)
    return count_rows(data)


def count_rows(data: bytes) -> int:
    """Data rows among the complete lines of a ledger's bytes."""
    data = data[: data.rfind(b"\n") + 1]
    lines = [l for l in data.split(b"\n") if l.strip()]
    # A header names columns and holds no digit; every order row holds its id.
    if lines and not any(c in b"0123456789" for c in lines[0]):
        return len(lines) - 1
    return len(lines)


def parse_summary(stdout: str) -> dict:
    """The JSON summary verify prints: the whole stdout, or else its last JSON object line."""
    try:
        return json.loads(stdout)
    except ValueError:
        pass
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return {}


def _rows(ledger: Path) -> int:
    return count_rows(ledger.read_bytes()) if ledger.exists() else 0


def verify_ledger(workdir: str, pokeflow_bin: Optional[str] = None, settle_timeout_s: float = 90,
                  min_rows: int = 1, rows_timeout_s: float = 30) -> dict:
    """Verify the orders acknowledged so far in workdir/ledger.csv. Returns a dict whose
    `clean` is the verdict; `summary` is verify's own JSON. Raises ActivityFailed only when
    the check itself cannot run (no binary)."""
    binary = pokeflow_bin or paths.pokeflow_bin()
    if shutil.which(binary) and os.sep in binary:
        binary = os.path.abspath(binary)  # it runs from the repo, not from here
    if not shutil.which(binary):
        raise ActivityFailed(f"pokeflow binary '{binary}' not found (build it, or set POKEFLOW_BIN)")
    ledger = Path(workdir) / "ledger.csv"
    start = time.time()
    # Wait for the load to have acknowledged something: an empty ledger proves nothing.
    while _rows(ledger) < min_rows:
        if time.time() - start >= rows_timeout_s:
            return {"clean": False, "rows": _rows(ledger), "waited_s": round(time.time() - start, 1),
                    "reason": f"{ledger} has fewer than {min_rows} acknowledged orders after "
                              f"{rows_timeout_s}s: is the loadgen running and the API accepting?"}
        time.sleep(1)
    n = len(list(Path(workdir).glob("ledger.snapshot-*.csv")))
    snap = Path(workdir) / f"ledger.snapshot-{n + 1}.csv"
    rows = snapshot(ledger, snap)
    taken = time.time()
    attempts = 0
    while True:
        attempts += 1
        # From the repo (POKEFLOW_REPO): verify reads config/fraud-rules.ini relative to it.
        p = subprocess.run([binary, "verify", "--ledger", str(snap.resolve())], capture_output=True,
                           text=True, timeout=300, env=os.environ, cwd=paths.REPO)
        summary = parse_summary(p.stdout)
        # verify passes orders still pending within its --deadline ("in_flight"); the probe
        # wants every order of the snapshot finalized, so those are waited for too.
        settled = p.returncode == 0 and not summary.get("in_flight")
        result = {"clean": settled, "exit_code": p.returncode, "summary": summary,
                  "rows": rows, "snapshot": str(snap), "attempts": attempts,
                  "waited_s": round(time.time() - taken, 1)}
        if settled:
            result["clean_at"] = time.time()
            return result
        result["stderr"] = p.stderr[-2000:]
        if p.returncode == 0 and time.time() - taken >= settle_timeout_s:
            result["reason"] = f"{summary.get('in_flight')} orders still pending after {settle_timeout_s}s"
            return result
        permanent = {k: summary.get(k) for k in PERMANENT if summary.get(k)}
        if permanent or time.time() - taken >= settle_timeout_s:
            result["reason"] = (f"permanent violations {permanent}" if permanent else
                                f"not settled within {settle_timeout_s}s")
            return result
        time.sleep(3)
