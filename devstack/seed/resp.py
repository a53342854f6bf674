"""A raw-socket Redis pipe: RESP written by us, replies read concurrently.

redis-py pipelines pay for a Python object per command and per reply; loading
fixtures needs none of that. Commands are encoded straight to bytes, written
with sendall() while a reader thread counts the replies (every command a
seeder sends answers with one line: +OK, :N or -ERR) and keeps the errors.
"""

from __future__ import annotations

import queue
import socket
import threading
from typing import Iterable

SEND_CHUNK = 1 << 18


def command(*args: bytes) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


class RedisError(Exception):
    pass


class Pipe:
    def __init__(self, host: str, port: int, password: str | None, db: int, timeout: float = 10.0):
        self.address = (host, int(port))
        try:
            self.sock = socket.create_connection(self.address, timeout=timeout)
        except OSError as exc:
            raise RedisError(f"cannot connect to redis at {host}:{port}: {exc.strerror or exc}") from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(None)
        hello = []
        if password:
            hello.append(command(b"AUTH", str(password).encode()))
        hello.append(command(b"SELECT", str(int(db)).encode()))
        errors = self.run(hello, len(hello))
        if errors:
            self.close()
            raise RedisError(f"redis at {host}:{port} refused {'AUTH' if password and errors[0][0] == 0 else 'SELECT'}: {errors[0][1]}")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def call(self, *args: bytes) -> None:
        errors = self.run([command(*args)], 1)
        if errors:
            raise RedisError(errors[0][1])

    def query_line(self, *args: bytes) -> bytes:
        """One command whose reply is a single line (e.g. DBSIZE -> b':12')."""
        self.sock.sendall(command(*args))
        buf = b""
        while not buf.endswith(b"\r\n"):
            data = self.sock.recv(4096)
            if not data:
                raise RedisError("connection closed")
            buf += data
        if buf.startswith(b"-"):
            raise RedisError(buf[1:].strip().decode(errors="replace"))
        return buf.strip()

    def run(self, chunks: Iterable[bytes], replies: int, max_errors: int = 20, copy_to=None) -> list[tuple[int, str]]:
        """Send every chunk, wait for `replies` single-line replies; returns [(reply index, error)].

        copy_to: a binary file that also gets every byte sent (the snapshot)."""
        errors: list[tuple[int, str]] = []
        failure: list[BaseException] = []

        def read():
            count, pending = 0, b""
            try:
                while count < replies:
                    data = self.sock.recv(1 << 20)
                    if not data:
                        raise RedisError(f"redis closed the connection after {count} of {replies} replies")
                    if pending:
                        data, pending = pending + data, b""
                    if b"-" in data:  # an error reply in there: walk its complete lines
                        end = data.rfind(b"\n") + 1
                        for line in data[:end].split(b"\r\n")[:-1]:
                            if line.startswith(b"-") and len(errors) < max_errors:
                                errors.append((count, line[1:].decode(errors="replace")))
                            count += 1
                        pending = data[end:]
                    else:
                        count += data.count(b"\n")
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                failure.append(exc)

        reader = threading.Thread(target=read, name="redis-replies", daemon=True)
        reader.start()
        # Encoding (the caller's generator, in this thread) overlaps with the sender thread
        # waiting on the socket and with Redis working through what it already got.
        outbox: queue.Queue = queue.Queue(maxsize=16)

        def send():
            try:
                while (data := outbox.get()) is not None:
                    self.sock.sendall(data)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                failure.append(exc)
                self.close()  # unblocks the reader
                while outbox.get() is not None:  # drain so the producer never blocks
                    pass

        sender = threading.Thread(target=send, name="redis-send", daemon=True)
        sender.start()
        try:
            buf: list[bytes] = []
            size = 0
            for chunk in chunks:
                buf.append(chunk)
                size += len(chunk)
                if size >= SEND_CHUNK:
                    self._hand_over(b"".join(buf), outbox, copy_to)
                    buf, size = [], 0
            if buf:
                self._hand_over(b"".join(buf), outbox, copy_to)
        finally:
            outbox.put(None)
            sender.join()
        reader.join()
        if failure:
            raise RedisError(str(failure[0]))
        return errors

    @staticmethod
    def _hand_over(data: bytes, outbox: queue.Queue, copy_to) -> None:
        """Queue `data` for the sender; the snapshot copy is written here, by the
        producer (which is ahead of Redis anyway), so the sender only ever sends."""
        outbox.put(data)
        if copy_to is not None:
            copy_to.write(data)
