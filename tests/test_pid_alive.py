"""synth.parallel.pid_alive: the one check, for watchers, work folders and report staging,
that a process still runs."""

from __future__ import annotations

import os
import subprocess
import sys

from synth.parallel import pid_alive


def test_a_running_process_is_alive_and_a_finished_one_is_not() -> None:
    assert pid_alive(os.getpid())
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    assert not pid_alive(done.pid)
