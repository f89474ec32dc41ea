"""A small HTTP/1.1 server for one ASGI app, behind the Lambda Web Adapter.

The adapter turns each Lambda event into one HTTP request to this server and relays the answer's
bytes to the caller as they are written (`AWS_LWA_INVOKE_MODE=response_stream`). So the server
writes each body part the moment the app sends it (chunked when the app gives no length), and
tells the app when the caller has gone (`http.disconnect`) so a stream stops instead of running
on. The standard library only: nothing to install and little to import on a cold start.

On Lambda Managed Instances the adapter sends an execution environment several requests at once
(`AWS_LAMBDA_MAX_CONCURRENCY`); `serve_workers` then runs that many processes, each importing the
agent itself and serving one request at a time, as Lambda's own Python runtime does there.
"""

import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
from urllib.parse import unquote

logger = logging.getLogger("agentdeploy.web")

MAX_HEAD_BYTES = 64 * 1024
# A connection that sends no request this long is closed (the adapter opens a new one); a head
# or body that stalls this long is refused.
IDLE_SECONDS = float(os.environ.get("AGENTDEPLOY_IDLE_SECONDS", "600"))
STALL_SECONDS = float(os.environ.get("AGENTDEPLOY_STALL_SECONDS", "60"))
_DIGITS = {10: re.compile(rb"[0-9]{1,18}"), 16: re.compile(rb"[0-9A-Fa-f]{1,15}")}
REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 409: "Conflict", 411: "Length Required",
           413: "Content Too Large", 431: "Request Header Fields Too Large",
           500: "Internal Server Error"}


class _BadHead(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


async def _read_head(reader):
    try:
        # The first byte may be long in coming (an idle kept-alive connection); the rest not.
        first = await asyncio.wait_for(reader.read(1), IDLE_SECONDS)
        if not first:
            return None
        reader._buffer[:0] = first  # CPython's StreamReader keeps its buffer here
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), STALL_SECONDS)
    except TimeoutError:
        return None
    except asyncio.IncompleteReadError as err:
        if err.partial.strip():
            raise _BadHead(400, "incomplete request head") from None
        return None
    except asyncio.LimitOverrunError:
        raise _BadHead(431, "request head too large") from None
    lines = head[:-4].decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ")
    except ValueError:
        raise _BadHead(400, "malformed request line") from None
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise _BadHead(400, "malformed header line")
        headers.append((name.strip().lower().encode("latin-1"), value.strip().encode("latin-1")))
    return method, target, version, headers


def _number(text, base, what):
    # Digits only: no sign, no `_`, no `0x`, no spaces (what int() would also take).
    if not _DIGITS[base].fullmatch(text):
        raise _BadHead(400, f"invalid {what}")
    return int(text, base)


async def _line(reader, what):
    try:
        return await asyncio.wait_for(reader.readuntil(b"\r\n"), STALL_SECONDS)
    except asyncio.LimitOverrunError:
        raise _BadHead(400, f"{what} too long") from None
    except (asyncio.IncompleteReadError, TimeoutError):
        raise _BadHead(400, f"incomplete {what}") from None


async def _exactly(reader, size):
    try:
        return await asyncio.wait_for(reader.readexactly(size), STALL_SECONDS)
    except TimeoutError:
        raise _BadHead(400, "the request body stalled") from None


def _framing(headers):
    """How the body is framed: ("chunked", None) or ("length", n). One way only, stated once:
    a request that could be read two ways (two lengths, a length and chunks, another coding)
    is refused rather than guessed at."""
    lengths = {value for name, value in headers if name == b"content-length"}
    codings = [value.lower() for name, value in headers if name == b"transfer-encoding"]
    if codings:
        if codings != [b"chunked"] or lengths:
            raise _BadHead(400, "ambiguous request framing (Transfer-Encoding)")
        return "chunked", None
    if len(lengths) > 1:
        raise _BadHead(400, "invalid Content-Length (given twice)")
    return "length", _number(lengths.pop() if lengths else b"0", 10, "Content-Length")


async def _read_body(reader, writer, headers, max_body_bytes):
    framing, length = _framing(headers)
    if length is not None and length > max_body_bytes:
        raise _BadHead(413, "request body too large")
    if dict(headers).get(b"expect", b"").lower() == b"100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
    if framing == "chunked":
        body = bytearray()
        while True:
            size_line = await _line(reader, "chunk size line")
            size = _number(size_line[:-2].split(b";")[0].strip(), 16, "chunk size")
            if size == 0:
                await _line(reader, "chunked body end")
                return bytes(body)
            if len(body) + size > max_body_bytes:
                raise _BadHead(413, "request body too large")
            body += await _exactly(reader, size)
            await _exactly(reader, 2)
    return await _exactly(reader, length) if length else b""


class _Response:
    """Writes the app's `http.response.*` messages to the connection as they come."""

    def __init__(self, writer, head_only, closing=False):
        self.writer = writer
        self.head_only = head_only
        self.closing = closing  # the connection closes after this answer: say so
        self.status = None
        self.headers = []
        self.started = False
        self.chunked = False
        self.finished = False

    async def send(self, message):
        kind = message["type"]
        if kind == "http.response.start":
            self.status = int(message["status"])
            self.headers = [(bytes(k).lower(), bytes(v)) for k, v in message.get("headers", [])]
        elif kind == "http.response.body":
            if self.finished:
                return
            body = message.get("body", b"")
            more = message.get("more_body", False)
            if not self.started:
                self._write_head(len(body) if not more else None)
            if body and not self.head_only:
                self.writer.write(b"%x\r\n%s\r\n" % (len(body), body) if self.chunked else body)
            if not more:
                if self.chunked and not self.head_only:
                    self.writer.write(b"0\r\n\r\n")
                self.finished = True
            # Each part leaves now: this is what makes the caller see the first event early.
            await self.writer.drain()

    def _write_head(self, length):
        self.started = True
        names = {name for name, _ in self.headers}
        headers = list(self.headers)
        if b"content-length" not in names:
            if length is None:
                self.chunked = True
                headers.append((b"transfer-encoding", b"chunked"))
            else:
                headers.append((b"content-length", str(length).encode()))
        if self.closing and b"connection" not in names:
            headers.append((b"connection", b"close"))
        status = self.status or 500
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}".encode()]
        lines += [name + b": " + value for name, value in headers]
        self.writer.write(b"\r\n".join(lines) + b"\r\n\r\n")


def _plain(writer, status, message):
    body = ('{"error": "%s", "message": "%s"}' % (REASONS.get(status, "Error").replace(" ", ""), message)).encode()
    writer.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s"
                 % (status, REASONS.get(status, "Error").encode(), len(body), body))


async def _serve_one(app, reader, writer, head, max_body_bytes, last=False):
    """One request (`last`: the connection's only one); False when the connection must close."""
    method, target, version, headers = head
    body = await _read_body(reader, writer, headers, max_body_bytes)
    path, _, query = target.partition("?")
    peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
    sock = writer.get_extra_info("sockname") or ("127.0.0.1", 0)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": version.rpartition("/")[2] or "1.1",
        "method": method.upper(),
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode("latin-1"),
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": headers,
        "client": (peer[0], peer[1]),
        "server": (sock[0], sock[1]),
        "state": {},
    }
    response = _Response(writer, head_only=method.upper() == "HEAD", closing=last)
    delivered = False
    gone = asyncio.get_running_loop().create_future()

    async def receive():
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await gone
        return {"type": "http.disconnect"}

    async def watch_caller():
        # The adapter closing the connection mid-answer: the caller has gone. Bytes of a next
        # request sent early go back into the reader's buffer for the next round.
        data = await reader.read(1)
        if data:
            reader._buffer[:0] = data  # CPython's StreamReader keeps its buffer here
        elif not gone.done():
            gone.set_result(None)

    watcher = asyncio.create_task(watch_caller())
    app_task = asyncio.create_task(app(scope, receive, response.send))
    try:
        await asyncio.wait({app_task, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not app_task.done():
            # The caller left before the answer ended: the app is stopped, nothing more is sent.
            app_task.cancel()
            await asyncio.gather(app_task, return_exceptions=True)
            return False
        app_task.result()
    except (ConnectionError, asyncio.CancelledError):
        app_task.cancel()
        await asyncio.gather(app_task, return_exceptions=True)
        return False
    except Exception:
        logger.exception("the app raised while answering %s %s", method, path)
        if not response.started:
            _plain(writer, 500, "the app failed; see the function's log")
            await writer.drain()
        return False
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    if not response.started:
        _plain(writer, 500, "the app sent no answer")
        await writer.drain()
        return False
    if not response.finished or last:
        return False
    connection = dict(headers).get(b"connection", b"").lower()
    # HTTP/1.0 closes after each answer unless it asked to keep the connection.
    if version == "HTTP/1.0":
        return connection == b"keep-alive"
    return connection != b"close"


async def _connection(app, reader, writer, max_body_bytes, one_request=False):
    try:
        while True:
            try:
                head = await _read_head(reader)
                if head is None:
                    break
                keep = await _serve_one(app, reader, writer, head, max_body_bytes, last=one_request)
            except _BadHead as err:
                _plain(writer, err.status, str(err))
                await writer.drain()
                break
            if not keep:
                break
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass


@contextlib.asynccontextmanager
async def _lifespan(app):
    """The app started (a FastAPI lifespan, say; an app without one is fine) for the block, and
    shut down after it."""
    messages = asyncio.Queue()
    started = asyncio.get_running_loop().create_future()
    await messages.put({"type": "lifespan.startup"})

    async def receive():
        return await messages.get()

    async def send(message):
        if message["type"] == "lifespan.startup.complete" and not started.done():
            started.set_result(None)
        elif message["type"] == "lifespan.startup.failed" and not started.done():
            started.set_exception(RuntimeError(message.get("message") or "the app's startup failed"))

    async def run():
        try:
            await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
        except Exception:
            # Apps that do not speak lifespan raise on the scope: they have nothing to start.
            pass
        if not started.done():
            started.set_result(None)

    task = asyncio.create_task(run())
    await started
    try:
        yield
    finally:
        await messages.put({"type": "lifespan.shutdown"})
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _port(port):
    """The port to listen on: the given one, else the adapter's (`AWS_LWA_PORT`), else 8080."""
    return int(port if port is not None else os.environ.get("AWS_LWA_PORT", os.environ.get("PORT", "8080")))


async def serve(app, host="127.0.0.1", port=None, max_body_bytes=6 * 1024 * 1024, ready=None, sock=None):
    """Serves `app` until cancelled. `ready(port)` is called once the socket listens. `sock`: a
    socket already listening (`agentdeploy dev` keeps one across restarts), instead of host:port."""
    async with _lifespan(app):
        where = {"sock": sock} if sock is not None else {"host": host, "port": _port(port)}
        server = await asyncio.start_server(
            lambda r, w: _connection(app, r, w, max_body_bytes), limit=MAX_HEAD_BYTES, **where)
        if ready is not None:
            ready(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()


def serve_workers(load_app, workers, host="127.0.0.1", port=None, max_body_bytes=6 * 1024 * 1024,
                  ready=None):
    """Serves `workers` requests at once, each in a process of its own: every worker imports the
    agent (`load_app()`, its own INIT) and serves one request at a time, so no agent, session or
    measurement is ever shared by two requests in flight. The workers share one listening socket
    and a worker accepts a connection only when it is idle, answering one request on it (the
    adapter opens a new connection for the next), so a request never waits behind a busy worker
    while another is free. A worker that dies ends the environment: Lambda starts a new one."""
    listener = socket.create_server((host, _port(port)), backlog=max(2 * workers, 64))
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # a worker
            code = 1
            try:
                asyncio.run(_worker(load_app(), listener, max_body_bytes))
                code = 0
            except BaseException:
                logger.exception("a worker of the function's server stopped")
            finally:
                os._exit(code)
        children.append(pid)
    if ready is not None:
        ready(listener.getsockname()[1])
    try:
        _, status = os.wait()
    finally:
        for child in children:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
    raise SystemExit(os.waitstatus_to_exitcode(status) or 1)


async def _worker(app, listener, max_body_bytes):
    loop = asyncio.get_running_loop()
    listener.setblocking(False)
    async with _lifespan(app):
        while True:
            connection, _ = await loop.sock_accept(listener)
            reader, writer = await asyncio.open_connection(sock=connection, limit=MAX_HEAD_BYTES)
            await _connection(app, reader, writer, max_body_bytes, one_request=True)
