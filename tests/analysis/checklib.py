"""Assertions shared by the analysis check scripts: each check prints ok / FAIL with what it
compared, failures are collected so one run shows all of them, and finish() turns them into
the exit status."""

import subprocess
import sys

TOL = 1e-9
FAILURES = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        FAILURES.append(what)


def near(actual, expected, what):
    """actual within TOL of expected (both None counts as equal: an empty cell)."""
    if expected is None:
        good = actual is None
    else:
        good = actual is not None and abs(actual - expected) <= TOL
    check(good, "%s = %r (expected %r)" % (what, actual, expected))


def run(script, *args):
    """(exit status, stdout, stderr) of `python3 script args...`."""
    proc = subprocess.run([sys.executable, script] + list(args), capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


def finish(what):
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES))
        return 1
    print("all %s checks passed" % what)
    return 0
