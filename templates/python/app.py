"""{{name}}: a Wisp function in Python, built with componentize-py.

Answers every request with `200 text/plain` and the body
`<GREETING> from {{name}}!` (GREETING defaults to "Hello").
"""

import os

from componentize_py_types import Ok
from wit_world import exports
from wit_world.imports.types import (
    Fields,
    IncomingRequest,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        greeting = os.environ.get("GREETING", "Hello")
        body_bytes = f"{greeting} from {{name}}!\n".encode()

        response = OutgoingResponse(
            Fields.from_list([("content-type", b"text/plain; charset=utf-8")])
        )
        response.set_status_code(200)
        body = response.body()
        ResponseOutparam.set(response_out, Ok(response))
        # The stream is a child of the body: drop it before finishing the body.
        with body.write() as stream:
            stream.blocking_write_and_flush(body_bytes)
        OutgoingBody.finish(body, None)
