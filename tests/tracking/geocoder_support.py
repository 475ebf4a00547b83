"""A Nominatim stand-in on 127.0.0.1 for the geocoder (WATCHNET_GEOCODER_URL): GET /reverse
answers as Nominatim's jsonv2 does, and every request is recorded."""

from __future__ import annotations

import http.server
import json
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit


class GeocoderStub:
    """A Nominatim look-alike: GET /reverse answers JSON with display_name and address."""

    def __init__(self, delay_s: float = 0.0) -> None:
        stub = self
        self.requests: list[dict[str, list[str]]] = []
        self.delay_s = delay_s

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                stub.requests.append(query)
                if stub.delay_s:
                    time.sleep(stub.delay_s)
                if parts.path != "/reverse":
                    self.send_response(404)
                    self.end_headers()
                    return
                body = json.dumps(
                    {
                        "place_id": 1,
                        "lat": query["lat"][0],
                        "lon": query["lon"][0],
                        "display_name": "3, 八幡町, 本庄市, 埼玉県, 367-0000, 日本",
                        "address": {
                            "house_number": "3",
                            "neighbourhood": "八幡町",
                            "city": "本庄市",
                            "province": "埼玉県",
                            "postcode": "367-0000",
                            "country": "日本",
                            "country_code": "jp",
                        },
                    },
                    ensure_ascii=False,
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # the app gave up on a slow answer and closed the connection

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
