"""Ctrl-C during a batch's commit waits for the commit, its index update and its audit record
to finish, then stops the ingest (the CI run that stopped an ingest right after a commit found
a batch committed but not audited)."""

import signal

import pytest

from facesift.ingest.jobs import ctrl_c_deferred


@pytest.fixture(autouse=True)
def ctrl_c_raises():
    """Python's own Ctrl-C handler, whatever the test run inherited (a shell's background job
    starts with SIGINT ignored)."""
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, inherited)


def test_ctrl_c_inside_the_block_is_raised_after_it():
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with ctrl_c_deferred():
            steps.append("commit")
            # Ctrl-C arrives: Python calls the SIGINT handler between two steps. (Called here
            # directly: a real signal sent to the test process would also reach the native
            # libraries earlier tests loaded, such as Ray's core, which crashed on it.
            # tests/integration/test_interrupted_ingest.py sends real ones to a CLI ingest.)
            signal.getsignal(signal.SIGINT)(signal.SIGINT, None)
            steps.append("index")
            steps.append("audit")
    assert steps == ["commit", "index", "audit"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_without_ctrl_c_nothing_is_raised():
    with ctrl_c_deferred():
        pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_ignored_ctrl_c_stays_ignored():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with ctrl_c_deferred():
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
