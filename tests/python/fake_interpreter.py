"""A minimal self-hosted code interpreter for tests: POST {"code": ...} runs it and answers with
stdout / stderr / exit_code. Listens on 127.0.0.1 (a free port), prints `READY <port>`, and
stops when its stdin closes."""

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        code = json.loads(self.rfile.read(length))["code"]
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
        body = json.dumps({"stdout": proc.stdout, "stderr": proc.stderr, "exit_code": proc.returncode}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"READY {server.server_address[1]}", flush=True)
sys.stdin.read()
server.shutdown()
