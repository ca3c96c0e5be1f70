"""A WebSocket version of the sample app: each message is answered with the
app's name, version and address, followed by its upstream's answer to the
same message when `upstream_url` is set (one upstream WebSocket per client
WebSocket, opened through the sidecar's outbound listener, HTTP_PROXY's
address, carrying only x-request-id on from the client's handshake).

Environment (as laneproxy local sets it): app, version, bind (IP:PORT),
upstream_url (http://host:port/), HTTP_PROXY (http://IP:PORT).
"""
import asyncio
import os
from urllib.parse import urlparse

import websockets

APP = os.environ.get("app", "app")
VERSION = os.environ.get("version", "v0")
BIND = os.environ.get("bind", "127.0.0.1:8000")
UPSTREAM = os.environ.get("upstream_url", "")
PROXY = os.environ.get("HTTP_PROXY", "")
IDENT = f"-> {APP}(version: {VERSION}, ip: {BIND.rsplit(':', 1)[0]})"


async def handler(ws, path="/"):
    upstream = None
    if UPSTREAM:
        target = urlparse(UPSTREAM)
        via = urlparse(PROXY) if PROXY else target
        headers = [(k, v) for k, v in ws.request_headers.raw_items() if k.lower() == "x-request-id"]
        upstream = await websockets.connect(f"ws://{target.netloc}{path}", host=via.hostname,
                                            port=via.port, extra_headers=headers)
    try:
        async for message in ws:
            if upstream:
                await upstream.send(message)
                await ws.send(IDENT + await upstream.recv())
            else:
                await ws.send(IDENT + " " + message)
    finally:
        if upstream:
            await upstream.close()


async def main():
    host, port = BIND.rsplit(":", 1)
    async with websockets.serve(handler, host, int(port)):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
