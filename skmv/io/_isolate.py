"""Running a function in a separate process, so that a native crash (FFmpeg on
a corrupt file) or a hang becomes a MediaError for one file, not the end of
the run.

Each thread of each process keeps one worker process and sends it calls one at
a time: a call costs a round trip through a socket, not a process start. A
worker that crashes or times out is discarded, and the next call starts a new
one. Workers are fresh interpreters (``python -c``), not forks: forking a
process whose BLAS or OpenCV threads are running is unsafe, and unlike
multiprocessing's spawn and forkserver they never import the caller's
``__main__``, so a script needs no ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import atexit
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import traceback
import weakref
from multiprocessing.connection import Connection

try:
    import cloudpickle
except ImportError:  # joblib < 1.5 vendors it
    from joblib.externals import cloudpickle

from ..exceptions import MediaError

__all__ = ["call_isolated"]

# Modules a new worker imports before it says it is ready.
_PRELOAD = ["skmv.io", "av", "numpy", "soundfile"]
# Seconds to wait for a new worker to be ready, and for one to exit.
_START_TIMEOUT = 120.0
_EXIT_TIMEOUT = 5.0
# Where this skmv is imported from, put first on the worker's path, so that
# the worker runs this very copy even from a source tree that is not
# installed.
_SKMV_ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
_BOOT = "import sys; from skmv.io._isolate import _main; _main(int(sys.argv[1]))"

_local = threading.local()
_workers = set()
_lock = threading.Lock()


class _RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker, as its cause."""

    def __init__(self, text):
        super().__init__(text)
        self.text = text

    def __str__(self):
        return f'\n"""\n{self.text}"""'


def _main(fd):
    """Entry point of a worker process: preload, then serve on socket ``fd``."""
    import importlib

    for name in _PRELOAD:
        importlib.import_module(name)
    try:
        _serve(Connection(fd))
    except (KeyboardInterrupt, ConnectionError):
        # The caller hung up (interrupted, or gone) while this worker was
        # starting or answering: nobody is left to report to.
        return


def _serve(conn):
    """The worker's loop: run calls until the parent hangs up."""
    conn.send_bytes(b"ready")
    while True:
        try:
            payload = conn.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            cwd, func, args, kwargs = pickle.loads(payload)
            # The worker outlives the call that started it: relative paths
            # must resolve against the caller's current directory of now.
            if os.getcwd() != cwd:
                os.chdir(cwd)
            reply = ("ok", func(*args, **kwargs), None)
        except Exception as exc:
            reply = ("error", exc, traceback.format_exc())
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            text = traceback.format_exc() if reply[2] is None else reply[2]
            error = RuntimeError(
                f"the isolated call's {'result' if reply[0] == 'ok' else 'error'} "
                f"could not be pickled back ({exc!r}): {reply[1]!r}"
            )
            data = pickle.dumps(("error", error, text))
        conn.send_bytes(data)


class _Worker:
    def __init__(self):
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [_SKMV_ROOT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        )
        try:
            # A session of its own: a Ctrl-C in the terminal reaches the
            # caller, which discards the worker, not the worker mid-call.
            self.process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.owner = os.getpid()
        try:
            ready = (
                self.conn.poll(_START_TIMEOUT) and self.conn.recv_bytes() == b"ready"
            )
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.kill()
            raise RuntimeError(
                f"skmv.io: the worker process did not start within "
                f"{_START_TIMEOUT:g} s (exit code {self.process.returncode})"
            )

    def _wait(self, timeout):
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def exit_reason(self):
        code = self._wait(_EXIT_TIMEOUT)
        if code is None:
            self.kill()
            return "decoder process stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = "unknown signal"
            return f"decoder crashed (signal {-code}, {name})"
        return f"decoder process exited with code {code}"

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
        self._wait(_EXIT_TIMEOUT)
        self.conn.close()

    def stop(self):
        # Hang up: the worker's loop ends on EOF.
        self.conn.close()
        if self._wait(_EXIT_TIMEOUT) is None:
            self.process.kill()
            self._wait(_EXIT_TIMEOUT)


def _get_worker():
    worker = getattr(_local, "worker", None)
    if worker is None or worker.owner != os.getpid():
        worker = _Worker()
        _local.worker = worker
        with _lock:
            _workers.add(worker)
        # A thread's worker goes with the thread (joblib's threads, say).
        weakref.finalize(threading.current_thread(), _discard_worker, worker, False)
    return worker


def _discard_worker(worker, kill=True):
    if getattr(_local, "worker", None) is worker:
        _local.worker = None
    with _lock:
        if worker not in _workers:
            return
        _workers.discard(worker)
    if kill:
        worker.kill()
    else:
        worker.stop()


@atexit.register
def _stop_workers():
    with _lock:
        workers = [w for w in _workers if w.owner == os.getpid()]
        _workers.clear()
    for worker in workers:
        worker.stop()


def call_isolated(func, *args, path, timeout=None, **kwargs):
    """Call ``func(*args, **kwargs)`` in a worker process and return its result.

    A native crash in the worker (a segmentation fault in FFmpeg, say) or a
    call that runs past ``timeout`` becomes a :class:`~skmv.exceptions.MediaError`
    naming ``path``, and the calling process carries on. Exceptions raised by
    ``func`` come back as themselves, with the worker's traceback as their
    cause.

    The worker is started on the first call (a fresh interpreter that
    imports skmv.io, PyAV, NumPy and soundfile, well under a second), then
    kept for later calls of the same thread: a call then costs a round trip
    through a socket plus pickling ``args`` and the result. A worker that
    crashed or timed out is replaced on the next call. The worker never
    imports the caller's ``__main__``: scripts need no ``if __name__ ==
    "__main__":`` guard.

    Parameters
    ----------
    func : callable
        What to run. Functions defined in ``__main__``, lambdas and closures
        are pickled by value (cloudpickle); others by reference, so their
        module must be importable in the worker.
    *args, **kwargs
        Arguments of ``func``; they and its result must pickle.
    path : str or os.PathLike
        The file the call works on, named in the errors.
    timeout : float > 0 or None, default=None
        Seconds to wait for the result; None waits as long as it takes.

    Returns
    -------
    result
        What ``func`` returned.

    Raises
    ------
    MediaError
        ``"<path>: decoder crashed (signal 11, SIGSEGV)"`` if the worker dies
        of a signal, ``"<path>: decoder process exited with code N"`` if it
        exits, ``"<path>: timed out after N s"`` if it runs past ``timeout``
        (it is then killed); and any MediaError ``func`` raises.
    Exception
        Whatever else ``func`` raises.

    Examples
    --------
    >>> import os, signal
    >>> from skmv.io import call_isolated
    >>> call_isolated(divmod, 7, 2, path="clip.mp4")
    (3, 1)
    >>> def crash():
    ...     os.kill(os.getpid(), signal.SIGSEGV)
    >>> call_isolated(crash, path="clip.mp4")
    Traceback (most recent call last):
    ...
    skmv.exceptions.MediaError: clip.mp4: decoder crashed (signal 11, SIGSEGV)
    """
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be None or > 0 seconds; got {timeout!r}.")
    payload = cloudpickle.dumps(
        (os.getcwd(), func, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL
    )
    worker = _get_worker()
    try:
        worker.conn.send_bytes(payload)
        if not worker.conn.poll(timeout):
            _discard_worker(worker)
            raise MediaError(path, f"timed out after {timeout:g} s")
        data = worker.conn.recv_bytes()
    except (EOFError, ConnectionError):
        reason = worker.exit_reason()
        _discard_worker(worker)
        raise MediaError(path, reason) from None
    except BaseException:
        # Interrupted (KeyboardInterrupt, say): the worker's state is unknown.
        _discard_worker(worker)
        raise
    status, value, text = pickle.loads(data)
    if status == "ok":
        return value
    value.__cause__ = _RemoteTraceback(text)
    raise value
