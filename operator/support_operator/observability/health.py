"""Probes that mean what they say, on the liveness port:

- `/healthz` (liveness): the process's event loop runs. A heartbeat task beats every second; the answer is
  200 while the last beat is recent, whatever the API server does (an outage must not restart the pod).
- `/readyz` (readiness): the initial list of contracts and cases is loaded (leader and standby alike, so a
  PodDisruptionBudget counts the warm standby). The body names the replica's role.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# A beat every second; no beat for this long means the loop is blocked or dead.
HEARTBEAT_SECONDS = 1.0
STALE_AFTER_SECONDS = 20.0


@dataclass
class Health:
    role: str = "starting"  # starting | standby | leader
    _last_beat: float | None = None
    _ready: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def beat(self) -> None:
        with self._lock:
            self._last_beat = time.monotonic()

    def mark_ready(self) -> None:
        with self._lock:
            self._ready = True

    def live(self) -> bool:
        with self._lock:
            beat = self._last_beat
        return beat is not None and time.monotonic() - beat < STALE_AFTER_SECONDS

    def ready(self) -> bool:
        with self._lock:
            loaded = self._ready
        return loaded and self.live()


async def heartbeat(health: Health) -> None:
    """Runs on the operator's event loop for as long as the process does."""
    while True:
        health.beat()
        await asyncio.sleep(HEARTBEAT_SECONDS)


def start_health_server(port: int, addr: str, health: Health) -> ThreadingHTTPServer:
    """Serves /healthz and /readyz from a daemon thread; `shutdown()` stops it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/healthz":
                ok, text = health.live(), "event loop running" if health.live() else "event loop stalled"
            elif path == "/readyz":
                ok = health.ready()
                text = f"ready ({health.role})" if ok else "initial list of contracts and cases not loaded"
            else:
                self.send_error(404)
                return
            body = f"{text}\n".encode()
            self.send_response(200 if ok else 503)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds are noise
            pass

    server = ThreadingHTTPServer((addr, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health-server", daemon=True).start()
    return server
