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
