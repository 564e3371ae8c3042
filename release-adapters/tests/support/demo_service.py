"""A tiny HTTP service for the local-process target's tests.

Listens on 127.0.0.1:$PORT. Answers 500 on every request except /healthz when the file
`FAIL` exists in its working directory (the release directory), so a "bad" version is a
release directory with that marker. Also serves a small order API for journeys and an
/admin page that refuses requests without `Authorization: Bearer letmein`.
"""

import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("RELEASE_VERSION", "?")
SLOT = os.environ.get("RELEASE_SLOT", "?")
CONFIG_DIR = os.environ.get("RELEASE_CONFIG_DIR", "")
ORDERS = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Idle keep-alive connections end after a second, so a graceful stop is quick.
    timeout = 1

    def answer(self, status, body, kind="text/plain"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/healthz":
            return self.answer(200, "ok\n")
        if os.path.exists("FAIL"):
            return self.answer(500, "broken version %s\n" % VERSION)
        if self.path == "/config":
            names = sorted(os.listdir(CONFIG_DIR)) if CONFIG_DIR else []
            return self.answer(200, json.dumps(names), "application/json")
        if self.path.startswith("/admin"):
            if self.headers.get("Authorization") != "Bearer letmein":
                return self.answer(401, "credentials required\n")
            return self.answer(200, "admin\n")
        if self.path.startswith("/search"):
            if "'" in self.path or "%27" in self.path:
                return self.answer(400, "rejected\n")
            return self.answer(200, "[]", "application/json")
        if self.path.startswith("/orders/"):
            order = ORDERS.get(self.path[len("/orders/"):])
            if order is None:
                return self.answer(404, "no such order\n")
            return self.answer(200, json.dumps(order), "application/json")
        return self.answer(200, "version=%s slot=%s\n" % (VERSION, SLOT))

    def do_POST(self):
        if os.path.exists("FAIL"):
            return self.answer(500, "broken version %s\n" % VERSION)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/orders":
            oid = str(len(ORDERS) + 41)
            ORDERS[oid] = {"id": oid, "item": body.get("item")}
            return self.answer(201, json.dumps(ORDERS[oid]), "application/json")
        return self.answer(404, "not found\n")

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (VERSION, fmt % args))


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
    # On SIGTERM: stop accepting, finish the requests in flight, then exit.
    server.daemon_threads = False
    signal.signal(
        signal.SIGTERM,
        lambda *_: threading.Thread(target=server.shutdown, daemon=True).start(),
    )
    print("listening on %s version %s" % (os.environ["PORT"], VERSION), flush=True)
    server.serve_forever()
    server.server_close()
    print("stopped gracefully", flush=True)


if __name__ == "__main__":
    main()
