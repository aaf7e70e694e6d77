"""A webhook receiver for the tests: a real HTTP server in its own process on 127.0.0.1.

``python receiver.py LOG PLAN``: every POST is appended to the JSON-lines file LOG (its
path, headers and body) and answered by the next entry of PLAN, a comma-separated list of
status codes or ``hang`` (never answer); the last entry repeats. Prints its port on stdout
once it listens.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG, PLAN = sys.argv[1], sys.argv[2].split(",")
lock = threading.Lock()
calls = 0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        global calls
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        with lock:
            answer = PLAN[min(calls, len(PLAN) - 1)]
            calls += 1
            with open(LOG, "a") as log:
                entry = {
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "body": body.decode(),
                }
                log.write(json.dumps(entry) + "\n")
        if answer == "hang":
            time.sleep(3600)
            return
        self.send_response(int(answer))
        reply = f"answer {answer} " + "x" * 3000
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    # A storm's concurrent deliveries must not be refused by a short listen backlog.
    request_queue_size = 256


server = Server(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
