"""Progress bars start no thread, so that work in processes still forks beside them."""

from __future__ import annotations

import io
import subprocess
import sys
import threading

from synth.progress import progress_bar


def test_a_progress_bar_starts_no_thread_and_counts() -> None:
    before = {t.ident for t in threading.enumerate()}
    out = io.StringIO()
    with progress_bar(total=10, desc="tagging", unit="rec", file=out) as bar:
        bar.update(4)
        bar.update(6)
        assert {t.ident for t in threading.enumerate()} == before
    assert "tagging" in out.getvalue() and "10/10" in out.getvalue()
    assert list(progress_bar(range(3), file=io.StringIO())) == [0, 1, 2]


def test_with_a_bar_open_a_fresh_process_still_forks_its_workers() -> None:
    code = (
        "import io\n"
        "from synth.parallel import mp_context\n"
        "from synth.progress import progress_bar\n"
        "with progress_bar(total=1, file=io.StringIO()):\n"
        "    print(mp_context().get_start_method())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "fork"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _redraws(out: io.StringIO) -> int:
    return len([s for s in out.getvalue().split("\r") if s.strip()])


def test_a_bar_written_to_a_log_redraws_rarely_and_ends_complete() -> None:
    import time

    log, terminal = io.StringIO(), _Terminal()
    for out in (log, terminal):
        with progress_bar(total=5, desc="importing", file=out) as bar:
            for _ in range(5):
                time.sleep(0.15)  # longer than tqdm's default redraw interval
                bar.set_postfix_str("file.ris")  # a new label redraws a terminal's bar at once
                bar.update(1)
    assert _redraws(terminal) >= 5  # a person watching sees it move
    assert _redraws(log) <= 2 and "5/5" in log.getvalue()  # a log gets the start and end
