"""local-bigquery's server with one route added for the tests: ``POST /lightning-test/reset``
empties it in place (every project, table, job and session gone, as after a restart) in
well under a second, where a restart costs about four seconds of CPU (imports, extensions,
the servers).

Run by ``tests/bigquery_emulator.py`` with the emulator virtualenv's interpreter (CPython
3.13, ``.venv-bigquery``), never imported by the tests themselves:
``python tests/bigquery_emulator_server.py --host 127.0.0.1 --port P --grpc-port G
--project PROJECT --data-dir DIR``.

The reset waits for jobs still running (a run the test killed may have left one), up to
``RUNNING_JOBS_WAIT_S``; if some still run it answers 409 and changes nothing, and the tests
restart the server instead.
"""

from __future__ import annotations

import argparse
import pathlib
import time

RESET_PATH = "/lightning-test/reset"
RUNNING_JOBS_WAIT_S = 30.0


def _reset() -> bool:
    """Empty the emulator; False (nothing changed) while jobs still run."""
    from local_bigquery.catalog import tabledata
    from local_bigquery.engine import database, sessions
    from local_bigquery.grpc import read, write
    from local_bigquery.jobs import runner

    deadline = time.monotonic() + RUNNING_JOBS_WAIT_S
    while runner._running and time.monotonic() < deadline:
        time.sleep(0.05)
    if runner._running:
        return False
    for session_id in list(sessions._sessions):
        sessions.abort(session_id)
    read._streams.clear()
    write._streams.clear()
    tabledata._recent.clear()
    database._writers.clear()
    database.reset()  # closes the catalog's connection and removes the data directory
    database.connection()  # opened again now, so that the next test's first job is not slower
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--data-dir", type=pathlib.Path, required=True)
    args = parser.parse_args()

    from local_bigquery.settings import settings

    settings.bigquery_host = args.host
    settings.bigquery_port = args.port
    settings.grpc_port = args.grpc_port
    settings.default_project_id = args.project
    settings.data_dir = args.data_dir

    import uvicorn
    from fastapi.responses import JSONResponse
    from local_bigquery import app
    from local_bigquery.grpc import server

    def reset() -> JSONResponse:
        if _reset():
            return JSONResponse({"reset": True})
        return JSONResponse({"reset": False, "reason": "jobs still running"}, status_code=409)

    app.add_api_route(RESET_PATH, reset, methods=["POST"])
    # First, so that no route of the emulator's (a catch-all for unimplemented methods)
    # answers it.
    app.router.routes.insert(0, app.router.routes.pop())

    grpc_server, _ = server.start(args.host, args.grpc_port)
    try:
        uvicorn.run(app, host=args.host, port=args.port)
    finally:
        grpc_server.stop(None)


if __name__ == "__main__":
    main()
