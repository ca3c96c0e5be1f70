"""A gRPC version of the sample app: answers /laneproxy.Chain/Call (unary)
and /laneproxy.Chain/Stream (bidirectional) with its name, version and
address, followed by its upstream's answer when `upstream_url` is set;
/laneproxy.Chain/Slow answers after 30 seconds.

Like the guide's app it forwards only x-request-id to its upstream; it
calls the upstream through its sidecar's outbound listener (HTTP_PROXY's
address), naming the upstream service in :authority.

Environment (as laneproxy local sets it): app, version, bind (IP:PORT),
upstream_url (http://host:port/), HTTP_PROXY (http://IP:PORT).
"""
import os
import sys
import time
from concurrent import futures
from urllib.parse import urlparse

import grpc

APP = os.environ.get("app", "app")
VERSION = os.environ.get("version", "v0")
BIND = os.environ.get("bind", "127.0.0.1:8000")
UPSTREAM = os.environ.get("upstream_url", "")
PROXY = os.environ.get("HTTP_PROXY", "")


def ident():
    return f"-> {APP}(version: {VERSION}, ip: {BIND.rsplit(':', 1)[0]})"


class Chain:
    def __init__(self):
        self.stub_call = self.stub_stream = None
        if UPSTREAM:
            authority = urlparse(UPSTREAM).netloc
            target = urlparse(PROXY).netloc if PROXY else authority
            channel = grpc.insecure_channel(target, options=[("grpc.default_authority", authority),
                                                             ("grpc.enable_http_proxy", 0)])
            ident_bytes = (lambda b: b)
            self.stub_call = channel.unary_unary("/laneproxy.Chain/Call", ident_bytes, ident_bytes)
            self.stub_stream = channel.stream_stream("/laneproxy.Chain/Stream", ident_bytes,
                                                     ident_bytes)

    @staticmethod
    def forwarded(context):
        return [(k, v) for k, v in context.invocation_metadata() if k == "x-request-id"]

    def call(self, request, context):
        out = ident().encode()
        if self.stub_call:
            out += self.stub_call(request, metadata=self.forwarded(context), timeout=10)
        return out

    def slow(self, request, context):
        time.sleep(30)
        return ident().encode()

    def stream(self, requests, context):
        if not self.stub_stream:
            for r in requests:
                yield ident().encode() + b" " + r
            return
        replies = self.stub_stream(requests, metadata=self.forwarded(context), timeout=60)
        for r in replies:
            yield ident().encode() + r


def main():
    chain = Chain()
    handler = grpc.method_handlers_generic_handler("laneproxy.Chain", {
        "Call": grpc.unary_unary_rpc_method_handler(chain.call),
        "Slow": grpc.unary_unary_rpc_method_handler(chain.slow),
        "Stream": grpc.stream_stream_rpc_method_handler(chain.stream),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers((handler,))
    if server.add_insecure_port(BIND) == 0:
        sys.exit(f"chain_app: cannot bind {BIND}")
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
