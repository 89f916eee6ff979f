"""python-hello: a Wisp function written in Python, built with componentize-py.

It targets the standard `wasi:http/proxy` world (WIT in ./wit, the WASI 0.2
files as shipped by wasmtime-wasi-http 48) and answers any request with
`200 text/plain` and the body `Hello from Python on Wisp!\\n`, plus the header
`x-powered-by: componentize-py`. Logs `python-hello: <path-with-query>`.

Build (see ../build.sh):
    componentize-py -d wit -w wasi:http/proxy@0.2.12 componentize app -o ../python-hello.wasm
"""

import sys

from wit_world import exports
from wit_world.imports.types import (
    Fields,
    IncomingRequest,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)
from componentize_py_types import Ok

BODY = b"Hello from Python on Wisp!\n"


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        print(f"python-hello: {request.path_with_query() or '/'}", file=sys.stderr)

        response = OutgoingResponse(
            Fields.from_list(
                [
                    ("content-type", b"text/plain; charset=utf-8"),
                    ("x-powered-by", b"componentize-py"),
                ]
            )
        )
        response.set_status_code(200)
        body = response.body()
        ResponseOutparam.set(response_out, Ok(response))
        # The stream is a child of the body: drop it before finishing the body.
        with body.write() as stream:
            stream.blocking_write_and_flush(BODY)
        OutgoingBody.finish(body, None)
