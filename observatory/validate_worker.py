"""Validate: Great Expectations in a child process.

Importing GX costs two to three seconds of one core, more than reading and building a new
file. In a child process the import runs on another core while the run starts Dagster, reads
and harmonizes, so a run with one new file no longer waits for it; the run's own process never
imports GX. The parent sends each batch (only the columns the suite reads) and gets back, per
expectation, the row ids that fail it. A worker that dies or answers with an error fails that
batch, never silently: validate.py then validates the batch file by file, as before. A worker
that died of SIGINT is the exception: Ctrl+C at the terminal reaches the whole process group, so
the person is stopping the run, and the parent raises KeyboardInterrupt (observatory/interrupts.py).

Run as `python -m observatory.validate_worker`: it answers pickled requests on stdin with
pickled replies on stdout (both ends are this module, in processes of the same user).
"""
from __future__ import annotations

import atexit
import hashlib
import importlib
import importlib.util
import json
import logging
import os
import pickle
import select
import signal
import subprocess
import sys
import tempfile
import threading
import types
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_shared: "Worker | None" = None
_reply_seconds = 900.0  # OBSERVATORY_MAX_FILE_SECONDS's default; validate.py sets the setting
START_SECONDS = 300.0  # importing GX takes seconds, more on a busy machine
# How long a worker whose replies ended is given to end, to learn whether SIGINT ended it (its
# interpreter first tears GX down: about a second).
EXIT_SECONDS = 10.0
_closing: list["Worker"] = []  # closed, perhaps still exiting
_lock = threading.Lock()


class WorkerFailed(RuntimeError):
    """The worker could not validate a batch: GX raised on it, or the process died."""


class ValidatorBroken(RuntimeError):
    """GX cannot start or a suite is not valid: the pipeline's fault, not a file's, so the run
    fails with this reason instead of rejecting every file."""


class Worker:
    """One child process holding an ephemeral GX context; requests are answered in order."""

    def __init__(self) -> None:
        self._stderr = tempfile.TemporaryFile()
        env = dict(os.environ)
        env.setdefault("GX_ANALYTICS_ENABLED", "false")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "observatory.validate_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env,
        )
        self._ready = False
        self._broken = False  # the exchange failed: never used again, even while it exits

    def failing_rows(self, suite: dict, frame: Any, parameters: dict) -> dict[int, list[int]]:
        """Position of each expectation in the suite -> row ids of the rows failing it."""
        if not self.alive():
            self._raise_if_interrupted()
            raise WorkerFailed(f"the validation worker stopped{self._last_error()}")
        try:
            self._wait_ready()
            pickle.dump((suite, frame, parameters), self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._process.stdin.flush()
            status, answer = self._receive()
        except (EOFError, OSError, ValueError, TimeoutError, pickle.UnpicklingError) as error:
            self._broken = True
            if not isinstance(error, TimeoutError):  # its replies ended: it may have died of Ctrl+C
                self._raise_if_interrupted(EXIT_SECONDS)
            self.kill()  # dead, hung or out of step: a new worker takes the next batch
            raise WorkerFailed(f"the validation worker stopped ({type(error).__name__}){self._last_error()}") from None
        if status == "broken":
            raise ValidatorBroken(answer)
        if status != "ok":
            raise WorkerFailed(answer)
        return answer

    def alive(self) -> bool:
        return not self._broken and self._process.poll() is None

    def interrupted(self, seconds: float = 0.0) -> bool:
        """Whether the worker died of SIGINT (waiting up to `seconds` for it to end). Python
        ends a process that an unhandled KeyboardInterrupt stops by SIGINT, as the signal's
        default action does; the worker never catches one."""
        try:
            return self._process.wait(timeout=seconds) == -signal.SIGINT
        except subprocess.TimeoutExpired:
            return False

    def _raise_if_interrupted(self, seconds: float = 0.0) -> None:
        """Ctrl+C at the terminal reached the worker too: the person stops the run, which is no
        crash to validate around (the run's own KeyboardInterrupt can have been lost: DuckDB
        raises RuntimeError in its place, observatory/interrupts.py)."""
        if self.interrupted(seconds):
            self._broken = True  # reported once: the next batch (of a later run) gets a new worker
            raise KeyboardInterrupt("the validation worker was interrupted (SIGINT)")

    def _receive(self, seconds: float | None = None) -> tuple[str, Any]:
        """The next reply; a worker silent for longer than a file may take is hung."""
        seconds = _reply_seconds if seconds is None else seconds
        readable, _, _ = select.select([self._process.stdout], [], [], seconds)
        if not readable:
            raise TimeoutError(f"no answer in {seconds:.0f} s")
        return pickle.load(self._process.stdout)

    def close(self) -> None:
        """End of input: the worker exits by itself. Its interpreter takes about a second to
        tear GX down, so it is not waited for here but reaped in the background. A worker
        never asked anything (every verdict was remembered, verdicts.py) is stopped at once:
        it would otherwise finish importing GX on a core the run still needs."""
        if not self._ready:
            self.kill()
        if self._process.poll() is None:
            try:
                self._process.stdin.close()
            except OSError:
                self._process.kill()
            threading.Thread(target=self._reap, daemon=True).start()

    def _reap(self) -> None:
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def _wait_ready(self) -> None:
        if not self._ready:
            status, answer = self._receive(max(_reply_seconds, START_SECONDS))
            if status != "ready":
                raise ValidatorBroken(answer)
            self._ready = True

    def _last_error(self) -> str:
        self._stderr.seek(0)
        lines = [line for line in self._stderr.read().decode("utf-8", "replace").splitlines() if line.strip()]
        return f": {lines[-1][:200]}" if lines else ""


def configure(reply_seconds: float) -> None:
    """How long a batch may take before the worker is taken for hung (the seconds one file may take)."""
    global _reply_seconds
    _reply_seconds = reply_seconds


def prewarm() -> None:
    """Start the worker now (if it is not running), so its GX import overlaps what comes next."""
    shared()


def prewarm_if_changed(raw_dir: Path, marker: Path, always: bool = False) -> None:
    """Start the worker at once when the raw folder changed since the last discovery (or every
    file is to be validated again), so that its import overlaps Dagster's start-up too. A guess
    from modification times, cheap enough to take before anything else: the run's discovery
    decides what is read, and a run with nothing new starts no worker."""
    if always or not marker.exists() or _changed_since(raw_dir, marker.stat().st_mtime_ns):
        prewarm()


def mark_discovered(marker: Path, started_ns: int) -> None:
    """The marker's modification time is when the last discovery began listing the raw folder."""
    marker.touch()
    os.utime(marker, ns=(started_ns, started_ns))


def _changed_since(folder: Path, since_ns: int) -> bool:
    """Whether anything under `folder` (a file, or a folder: adding or removing a file changes
    its folder) was modified after `since_ns`."""
    if not folder.is_dir():
        return False
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            if current.stat().st_mtime_ns > since_ns:
                return True
            with os.scandir(current) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    elif entry.stat(follow_symlinks=False).st_mtime_ns > since_ns:
                        return True
        except OSError:
            return True  # unreadable: let the run's discovery decide
    return False


def shared() -> Worker:
    """The process's worker, started on first use and restarted after a crash."""
    global _shared
    with _lock:
        if _shared is not None and not _shared.alive():
            dead, _shared = _shared, None
            if not dead._broken and dead.interrupted():  # Ctrl+C while it waited: not replaced but reported
                raise KeyboardInterrupt("the validation worker was interrupted (SIGINT)")
        if _shared is None:
            _shared = Worker()
        return _shared


def discard() -> None:
    """Stop the worker: validation is done (or there is nothing to validate)."""
    global _shared
    with _lock:
        if _shared is not None:
            _shared.close()
            _closing.append(_shared)
            _shared = None


def _at_exit() -> None:
    """A worker still running when the process ends is stopped, never left behind."""
    discard()
    for worker in list(_closing):
        worker.kill()


atexit.register(_at_exit)


# --- the child's side --------------------------------------------------------------------

# What GX imports at start-up for expectations and renderers our suites do not use (statistical
# distribution tests, charts): about a second of its 2.5-3 s import. Imported on first use instead.
DEFERRED_MODULES = ("scipy.stats", "altair")


class _Deferred(types.ModuleType):
    """Stands in for a module until one of its attributes is used; then the module is imported
    for real, takes its place in sys.modules, and every use goes through to it. It carries the
    module's spec (importlib.util.find_spec works on it). Importing one of the module's own
    submodules first would load it in the middle of that import: GX and its dependencies only
    do `from scipy import stats` and `import altair`."""

    def __getattr__(self, name: str) -> Any:
        real = self.__dict__.get("_real")
        if real is None:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
            real = self.__dict__["_real"] = importlib.import_module(self.__name__)
        return getattr(real, name)


# What GX imports only because it is installed, for data sources our suites never use: SQLAlchemy
# (Dagster brings it) for GX's SQL data sources. Hidden in the worker, GX takes it for absent, as
# its optional imports allow: about 0.2-0.5 s less start-up and 20 MiB less memory.
HIDDEN_MODULES = ("sqlalchemy",)


def hide(names: tuple[str, ...]) -> None:
    """Make `import name` fail in this process, as if the package were not installed (None in
    sys.modules is Python's own way to say so); a module already imported stays."""
    for name in names:
        sys.modules.setdefault(name, None)


def defer(names: tuple[str, ...]) -> None:
    for name in names:
        if name not in sys.modules and importlib.util.find_spec(name.partition(".")[0]) is not None:
            stand_in = _Deferred(name)
            stand_in.__spec__ = importlib.util.find_spec(name)
            sys.modules[name] = stand_in


def _start() -> tuple[Any, Any, Any]:
    """GX, its ephemeral context and the batch definition every batch is validated through,
    with the modules our suites never use deferred or hidden first."""
    defer(DEFERRED_MODULES)
    hide(HIDDEN_MODULES)
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    batch_definition = (context.data_sources.add_pandas("staged").add_dataframe_asset("harmonized")
                        .add_batch_definition_whole_dataframe("run"))
    return gx, context, batch_definition


def _serve() -> None:
    # The replies get their own descriptor; whatever GX or a C library prints goes to stderr,
    # never into the replies.
    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        gx, context, batch_definition = _start()
    except Exception as error:  # noqa: BLE001 - reported to the parent, which fails the run
        _reply(protocol_out, "broken", f"Great Expectations could not start: {type(error).__name__}: {error}"[:300])
        return
    _reply(protocol_out, "ready", None)
    suites: dict[str, Any] = {}  # by the digest of their definition: a worker kept between runs sees edits
    while True:
        try:
            definition, frame, parameters = pickle.load(sys.stdin.buffer)
        except EOFError:
            return
        digest = hashlib.sha256(json.dumps(definition, sort_keys=True, default=str).encode()).hexdigest()[:16]
        suite = suites.get(digest)
        if suite is None:
            try:
                suite = context.suites.add(gx.ExpectationSuite(**{**definition, "name": f"{definition['name']}-{digest}"}))
                if len(suite.expectations) != len(definition["expectations"]):  # GX drops what it does not know
                    raise ValueError(f"GX kept {len(suite.expectations)} of its {len(definition['expectations'])} expectations")
                suites[digest] = suite
            except Exception as error:  # noqa: BLE001 - the suite's fault: the run fails
                _reply(protocol_out, "broken", f"suite {definition.get('name')} is not valid: "
                                               f"{type(error).__name__}: {str(error)[:200]}")
                continue
        try:
            _reply(protocol_out, "ok", _failing(batch_definition, suite, frame, parameters))
        except Exception as error:  # noqa: BLE001
            _reply(protocol_out, "error", f"{type(error).__name__}: {str(error)[:200]}")


def _failing(batch_definition, suite, frame, parameters: dict) -> dict[int, list[int]]:
    """An expectation GX could not evaluate raises: unchecked rows must never pass as valid."""
    position = {expectation.id: n for n, expectation in enumerate(suite.expectations)}
    result = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(
        suite, expectation_parameters=parameters, result_format={"result_format": "COMPLETE"}
    )
    failing: dict[int, list[int]] = {}
    for expectation_result in result.results:
        info = expectation_result.exception_info or {}
        if info.get("raised_exception"):
            raise RuntimeError(str(info.get("exception_message", ""))[:200])
        failing[position[expectation_result.expectation_config.id]] = list(
            expectation_result.result.get("unexpected_index_list") or [])
    if len(failing) != len(position):  # an expectation without a result left its rows unchecked
        raise RuntimeError(f"GX returned {len(failing)} results for {len(position)} expectations")
    return failing


def _reply(out, status: str, answer: Any) -> None:
    pickle.dump((status, answer), out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


if __name__ == "__main__":
    _serve()
