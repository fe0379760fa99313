"""One HTTP request for the k6 stand-in: a JSON request on stdin, status and body out."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request


def main() -> None:
    spec = json.load(sys.stdin)
    body = spec["body"]
    request = urllib.request.Request(
        spec["url"],
        data=None if body is None else body.encode(),
        headers=spec["headers"],
        method=spec["method"],
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read()
    json.dump({"status": status, "text": text.decode("utf-8", "replace")}, sys.stdout)


if __name__ == "__main__":
    main()
