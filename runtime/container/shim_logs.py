"""A container's log file in the shim, rotated as the container's settings say.

The shim, not the engine, holds the container's output (shim_stdio.py) and writes it here, so
SIGKILL of the engine loses no line (conmon's ctr_logging.c plays this part). Standard library only.
"""

from __future__ import annotations

import os
import time

from runtime.container.logfile import encode_records, rotated_path, timestamp
from runtime.container.shim_loop import say
from runtime.container.spec import LogSettings
from runtime.diskspace import NO_SPACE

READ_SIZE = 65536


class LogFile:
    """The container's log in the k8s-file format (logfile.py), rotated as its settings say.

    A write that would take the file past ``max_size`` first rotates it: ``ctr.log`` becomes
    ``ctr.log.1``, the older ones move up, the one beyond ``max_files`` goes; a single file
    (``max_files`` 1) is emptied instead. Rotated files are gzipped by a forked child, so the
    shim keeps serving; the next rotation of the same log waits for it. Driver ``none``: nothing
    is written.

    A full disk never stops the shim (conmon and containerd's shim drop log lines, never the
    container's exit status): output that cannot be written is counted and dropped, whole
    records only (a write cut short is truncated back), and once a write succeeds again a
    record on stderr says how much was lost and when; ``take_drops`` hands the count to the
    shim, which tells the engine (an event).
    """

    def __init__(self, path: str, settings: LogSettings) -> None:
        self.path = path
        self.settings = settings
        self.fd = -1
        self.size = 0
        self.compressor = 0  # pid of the child gzipping this log's newest rotated file
        self.dropped_lines = 0  # output lost to a full disk since the last record that got through
        self.dropped_bytes = 0
        self.dropped_since = 0.0
        self.reported: tuple[int, int, float] | None = None  # drops said in the log, for the shim to announce
        self.enabled = settings.driver != "none"
        if self.enabled:
            try:
                self._open(truncate=False)
            except OSError as exc:
                if exc.errno not in NO_SPACE:
                    raise  # (no room for the file itself: opened at the first write that fits)

    def _open(self, truncate: bool) -> None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | (os.O_TRUNC if truncate else 0)
        self.fd = os.open(self.path, flags, 0o640)
        self.size = os.fstat(self.fd).st_size

    def write(self, stream: str, data: bytes) -> None:
        if not self.enabled:
            return
        records = encode_records(stream, data)
        try:
            if self.fd < 0:
                self._open(truncate=False)
            if self.dropped_lines:
                self._say_dropped()
            self._write(records)
        except OSError as exc:
            if exc.errno not in NO_SPACE:
                raise
            self._drop(records)

    def _drop(self, records: bytes) -> None:
        if not self.dropped_lines:
            self.dropped_since = time.time()
            say(f"log {self.path}: no space left on device; dropping output until there is")
        self.dropped_lines += max(1, records.count(b"\n"))
        self.dropped_bytes += len(records)

    def _say_dropped(self) -> None:
        """Write the record that says what was dropped (raises while there is still no room)."""
        note = (f"[pyorch] {self.dropped_lines} line(s), {self.dropped_bytes} bytes of output dropped "
                f"since {timestamp(int(self.dropped_since * 1e9))}: no space left on device")
        self._write(encode_records("stderr", note.encode() + b"\n"))
        self.reported = (self.dropped_lines, self.dropped_bytes, self.dropped_since)
        self.dropped_lines = self.dropped_bytes = 0
        say(f"log {self.path}: writing again ({note})")

    def take_drops(self) -> tuple[int, int, float] | None:
        """(lines, bytes, since when) of drops the log has just said, once; None otherwise."""
        reported, self.reported = self.reported, None
        return reported

    def _write(self, records: bytes) -> None:
        limit = self.settings.max_size
        while limit and self.size + len(records) > limit:
            fits = records.rfind(b"\n", 0, limit - self.size) + 1  # the whole records that fit
            if fits == 0 and self.size == 0:  # one record larger than a file: it has one to itself
                fits = records.find(b"\n") + 1
            if fits:
                self._append(records[:fits])
                records = records[fits:]
            if records:
                self._rotate()
        if records:
            self._append(records)

    def _append(self, data: bytes) -> None:
        """All of ``data`` or none of it: a write the disk cut short is truncated back, so the
        file never holds half a record."""
        done = 0
        try:
            while done < len(data):
                done += os.write(self.fd, data[done:])
        except OSError:
            if done:
                os.ftruncate(self.fd, self.size)
            raise
        self.size += done

    def read_size(self) -> int:
        """How much to read from a pipe at once: records well under a file's size, so files stay
        within ``max_size`` (a read is one record when it has no newline)."""
        limit = self.settings.max_size
        return min(READ_SIZE, max(4096, limit // 4)) if limit else READ_SIZE

    def _rotate(self) -> None:
        os.close(self.fd)
        self.fd = -1
        keep = self.settings.max_files
        if keep > 1:
            self._wait_compressor()
            for index in range(keep - 1, 0, -1):
                for compressed in (False, True):
                    older = rotated_path(self.path, index, compressed)
                    if not os.path.exists(older):
                        continue
                    if index == keep - 1:
                        os.unlink(older)
                    else:
                        os.rename(older, rotated_path(self.path, index + 1, compressed))
            os.rename(self.path, rotated_path(self.path, 1))
            if self.settings.compress:
                self.compressor = _fork_compressor(rotated_path(self.path, 1))
        self._open(truncate=True)

    def _wait_compressor(self) -> None:
        if self.compressor:
            try:
                os.waitpid(self.compressor, 0)
            except ChildProcessError:
                pass  # the reaper had it already
            self.compressor = 0

    def close(self) -> None:
        self.enabled = False
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _fork_compressor(path: str) -> int:
    """gzip ``path`` into ``path.gz`` in a child (written aside, renamed, then the plain one removed);
    0 when no child could be forked (the file stays plain)."""
    import gzip
    import shutil

    try:
        pid = os.fork()
    except OSError:
        return 0
    if pid:
        return pid
    try:
        import signal

        signal.set_wakeup_fd(-1)  # the shim's handlers are not this child's
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        tmp = path + ".gz.tmp"
        with open(path, "rb") as src, gzip.open(tmp, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.rename(tmp, path + ".gz")
        os.unlink(path)
        os._exit(0)
    except BaseException:
        try:
            os.unlink(path + ".gz.tmp")  # a full disk: the plain file stays, nothing half-written
        except OSError:
            pass
        os._exit(1)

