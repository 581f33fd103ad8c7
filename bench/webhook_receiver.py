"""A minimal webhook receiver for the benchmark: counts the POSTs it answers 200 to.

Run by bench/webhooks.py as `uvicorn webhook_receiver:app` (one worker). `GET /count` gives
the number of POSTs received so far; `POST /reset` sets it back to zero.
"""

from typing import Any

received = 0


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global received
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    body = b"ok"
    if scope["method"] == "POST" and scope["path"] == "/reset":
        received = 0
    elif scope["method"] == "POST":
        received += 1
    else:
        body = str(received).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})
