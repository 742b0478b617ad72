"""The local pokeflow processes the chaos suite runs against: one process per role, on fixed
ports of their own (so they never collide with `make demo` or the integration tests), started
from the built binary, tracked by pid files under the state dir.

    python -m pokeflow_chaos.procs up|down|status
    python -m pokeflow_chaos.procs start|stop|kill ROLE
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Dict, Optional

from chaoslib.exceptions import ActivityFailed

from . import paths

API_PORT = 28000
API_URL = f"http://127.0.0.1:{API_PORT}"
ADMIN_PORTS = {"api": 28101, "fraud": 28102, "updater": 28103, "reverser": 28104, "loadgen": 28105}
ROLES = ("api", "fraud", "updater", "reverser")


def metrics_urls() -> Dict[str, str]:
    return {r: f"http://127.0.0.1:{p}/metrics" for r, p in ADMIN_PORTS.items() if r != "loadgen"}


def argv(role: str, binary: Optional[str] = None) -> list:
    if role not in ADMIN_PORTS:
        raise ActivityFailed(f"unknown role '{role}' (one of {', '.join(ADMIN_PORTS)})")
    args = [binary or paths.pokeflow_bin(), f"--role={role}", f"--admin-port={ADMIN_PORTS[role]}"]
    if role == "api":
        args.append(f"--api-port={API_PORT}")
    if role == "updater":
        args.append(f"--api-url={API_URL}")
    return args


def _pidfile(role: str) -> Path:
    return paths.state_dir() / f"{role}.pid"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def pid_of(role: str) -> Optional[int]:
    """The pid of our process for role, if running. A pid counts only while its command line
    still names the role and our admin port, so a reused pid is never signalled."""
    try:
        pid = int(_pidfile(role).read_text().strip())
    except (OSError, ValueError):
        return None
    cmd = _cmdline(pid)
    if f"--role={role}" in cmd and f"--admin-port={ADMIN_PORTS[role]}" in cmd and _alive(pid):
        return pid
    return None


def ready(role: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ADMIN_PORTS[role]}/readyz", timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def wait_ready(role: str, pid: int, timeout_s: float = 60) -> float:
    start = time.time()
    while not ready(role):
        # Liveness by pid, not pid_of(): right after exec /proc/PID/cmdline can still be empty.
        if not _alive(pid):
            raise ActivityFailed(f"pokeflow {role} exited during start: read {log_path(role)}")
        if time.time() - start >= timeout_s:
            raise ActivityFailed(f"pokeflow {role} (pid {pid}) not ready on "
                                 f"127.0.0.1:{ADMIN_PORTS[role]}/readyz within {timeout_s}s: read {log_path(role)}")
        time.sleep(0.5)
    return time.time() - start


def log_path(role: str) -> Path:
    return paths.state_dir() / f"{role}.log"


def start_role(role: str, wait: bool = True, timeout_s: float = 60) -> dict:
    """Start role unless it runs; waits for /readyz. Raises ActivityFailed if it cannot."""
    pid = pid_of(role)
    if pid is None:
        args = argv(role)
        if not os.access(args[0], os.X_OK):
            raise ActivityFailed(f"pokeflow binary '{args[0]}' is missing or not executable "
                                 "(build it, or set POKEFLOW_BIN)")
        with log_path(role).open("ab") as log:
            # Its own session: the process outlives the chaos run that started it, and a
            # Ctrl-C in the runner's terminal does not reach it.
            p = subprocess.Popen(args, cwd=paths.REPO, stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        _pidfile(role).write_text(f"{p.pid}\n")
        pid = p.pid
    waited = wait_ready(role, pid, timeout_s) if wait else 0.0
    return {"role": role, "pid": pid, "ready_after_s": round(waited, 1)}


def signal_role(role: str, sig: str = "KILL", timeout_s: float = 30) -> dict:
    """Send SIGsig to role's process and wait for it to exit (after timeout_s, SIGKILL).
    Raises ActivityFailed if role is not running: a fault that hits nothing proves nothing."""
    pid = pid_of(role)
    if pid is None:
        raise ActivityFailed(f"pokeflow {role} is not running (start it with procs start {role})")
    os.kill(pid, getattr(signal, f"SIG{sig.upper()}"))
    start = time.time()
    while _alive(pid):
        if time.time() - start >= timeout_s:
            os.kill(pid, signal.SIGKILL)
            timeout_s += 10
        time.sleep(0.1)
    _pidfile(role).unlink(missing_ok=True)
    return {"role": role, "pid": pid, "signal": sig.upper(), "exited_after_s": round(time.time() - start, 1)}


def kill_role(role: str) -> dict:
    """SIGKILL: the process gets no chance to commit, flush or leave its group."""
    return signal_role(role, "KILL")


def stop_role(role: str, timeout_s: float = 30) -> dict:
    """SIGTERM, the graceful stop; a process that is not running is fine here."""
    if pid_of(role) is None:
        return {"role": role, "pid": None}
    return signal_role(role, "TERM", timeout_s)


def ensure_roles(roles=ROLES) -> list:
    return [start_role(r) for r in roles]


def stop_roles(roles=ROLES) -> list:
    return [stop_role(r) for r in roles]


def status() -> Dict[str, dict]:
    return {r: {"pid": pid_of(r), "ready": ready(r), "log": str(log_path(r))} for r in ROLES}


def main(args) -> int:
    cmd = args[0] if args else ""
    try:
        if cmd == "up":
            out = ensure_roles()
        elif cmd == "down":
            out = stop_roles()
        elif cmd == "status":
            out = status()
            print(json.dumps(out, indent=2))
            return 0 if all(v["ready"] for v in out.values()) else 1
        elif cmd in ("start", "stop", "kill") and len(args) == 2:
            out = {"start": start_role, "stop": stop_role, "kill": kill_role}[cmd](args[1])
        else:
            print(__doc__.strip().split("\n\n", 1)[1], file=sys.stderr)
            return 2
    except ActivityFailed as e:
        print(f"[chaos] error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
