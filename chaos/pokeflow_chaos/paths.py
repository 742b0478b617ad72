"""Where things live. Every path can be overridden from the environment so the same code
runs from a clone, from CI, and inside the chaos image in Kubernetes."""
import os
from pathlib import Path

REPO = Path(os.environ.get("POKEFLOW_REPO", Path(__file__).resolve().parents[2]))


def state_dir() -> Path:
    """Pid files, logs and fault records of the local chaos processes."""
    d = Path(os.environ.get("POKEFLOW_CHAOS_STATE", REPO / ".stack" / "chaos"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def stack_script() -> str:
    return os.environ.get("POKEFLOW_STACK_SCRIPT", str(REPO / "scripts" / "stack.sh"))


def pokeflow_bin() -> str:
    return os.environ.get("POKEFLOW_BIN", str(REPO / "build" / "pokeflow"))
