"""A real HTTP server on 127.0.0.1 whose replies each test scripts: files, error statuses, stalls."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """One scripted reply: a status and body, optionally stalled or cut short.

    ``stall_s`` pauses before the headers (``stall_after`` None) or after the first
    ``stall_after`` bytes of the body. ``cut_after`` announces the whole body in
    Content-Length but closes the connection after that many bytes.
    """

    status: int = 200
    body: bytes = b""
    stall_s: float = 0.0
    stall_after: int | None = None
    cut_after: int | None = None


class LocalServer:
    """Serve scripted replies per path; a path's replies are used in order and the last one repeats."""

    def __init__(self) -> None:
        self.replies: dict[str, list[Reply]] = {}
        self.hits: Counter[str] = Counter()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False  # A stalled reply must not hold up the test's teardown.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, path: str, *replies: Reply) -> None:
        self.replies[path] = list(replies)

    def serve_file(self, path: str, body: bytes) -> None:
        self.script(path, Reply(body=body))

    def next_reply(self, path: str) -> Reply | None:
        self.hits[path] += 1
        replies = self.replies.get(path)
        if not replies:
            return None
        return replies.pop(0) if len(replies) > 1 else replies[0]

    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_for(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to.
            path = self.path.split("?")[0]
            reply = server.next_reply(path) or Reply(status=404, body=b"not found")
            try:
                self._send(reply)
            except (BrokenPipeError, ConnectionResetError):
                pass  # The client gave up, which is what a stall test expects.

        def _send(self, reply: Reply) -> None:
            if reply.stall_s and reply.stall_after is None:
                time.sleep(reply.stall_s)
            self.send_response(reply.status)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            body = reply.body if reply.cut_after is None else reply.body[: reply.cut_after]
            if reply.stall_s and reply.stall_after is not None:
                self.wfile.write(body[: reply.stall_after])
                self.wfile.flush()
                time.sleep(reply.stall_s)
                body = body[reply.stall_after :]
            # Chunks keep each sendall short: a socket timeout limits one whole sendall call.
            for start in range(0, len(body), 1 << 16):
                self.wfile.write(body[start : start + (1 << 16)])
            if reply.cut_after is not None:
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the signature of http.server.
            pass

    return Handler
