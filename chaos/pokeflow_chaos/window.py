"""Fault windows of a fixed length, whatever the method's probes took.

Chaos Toolkit pauses are fixed delays; a probe that waits for an effect (lag rising, a
backlog growing) takes as long as the effect needs. hold_fault() sleeps until a given number
of seconds after the method's first inject-* activity started (as the load-and-timeline
control saw it), so a 60 s fault is 60 s long on the chart."""
import time

from . import control


def first_inject_at():
    """When the first inject-* activity of this run started (epoch seconds), or None."""
    return control._run.get("first_inject_at")


def hold_fault(seconds: float) -> dict:
    """Sleep until `seconds` after the first inject-* activity started; at once if that has
    passed already. Without the control (no record), sleeps `seconds`."""
    started = first_inject_at()
    now = time.time()
    left = float(seconds) if started is None else max(0.0, started + float(seconds) - now)
    time.sleep(left)
    return {"held_s": round(left, 2), "fault_s": float(seconds),
            "since_inject_s": None if started is None else round(time.time() - started, 1)}
