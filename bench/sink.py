"""The project's fake HTTP destination (``tests.fakes.http_sink.HttpSink``) in a process.

``python -m bench.sink [LATENCY_SECONDS]`` starts the sink (no failures; the latency is added
to every response, none by default), prints
``LISTENING <url>`` and then answers commands read one per line on stdin, each with
one JSON line on stdout:

- ``stats``: ``{"requests": <requests received>, "rows": <records stored>}``;
- ``reset``: forgets records and counts, answers ``{"ok": true}``.

End of input stops the sink. Running it in its own process keeps the server's CPU
work off the measured client's interpreter.
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    """Serve until stdin closes."""
    from tests.fakes.http_sink import HttpSink

    latency = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
    with HttpSink(latency_seconds=latency) as sink:
        print(f"LISTENING {sink.url}", flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "stats":
                rows = sum(len(records) for records in sink.records.values())
                answer: dict[str, object] = {"requests": sink.request_count, "rows": rows}
            elif command == "reset":
                sink.reset()
                answer = {"ok": True}
            else:
                answer = {"error": f"unknown command {command!r}"}
            print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
