"""Closing a stream reader ends it at once, even while its read waits for bytes that will not come."""

import socket
import threading
import time

from rbee_bdd.clients.sse import JobStream


def silent_server(listener: socket.socket, stop: threading.Event) -> None:
    """Answer one SSE request with one token event, then keep the connection open and send nothing."""
    connection, _ = listener.accept()
    connection.recv(4096)
    connection.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
    event = b'event: token\ndata: {"t": "a", "i": 0}\n\n'
    connection.sendall(f"{len(event):x}\r\n".encode() + event + b"\r\n")
    stop.wait(30)
    connection.close()


def test_close_wakes_a_read_blocked_on_a_silent_connection() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()
    threading.Thread(target=silent_server, args=(listener, stop), daemon=True).start()
    try:
        stream = JobStream(f"http://127.0.0.1:{listener.getsockname()[1]}/v1/jobs/j/stream").start()
        deadline = time.monotonic() + 5
        while not stream.events and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
        stream.close()
        assert stream.ended and time.monotonic() - started < 1.0
    finally:
        stop.set()
        listener.close()
