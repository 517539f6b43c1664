"""Polling with a deadline for the lab scripts: tests wait for a condition, never a sleep."""
import time


def until(deadline, fn, step=0.2):
    """Calls fn every `step` seconds until it returns something true or `deadline` seconds
    have passed; returns fn's last value."""
    end = time.monotonic() + deadline
    while True:
        v = fn()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step)
