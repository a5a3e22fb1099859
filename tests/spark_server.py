"""A local Spark Connect server for the tests: real Spark SQL (pyspark's own jars, local
mode, two threads) on 127.0.0.1, one per test session, reached by the engine's ``spark``
source and by the tests through ``sc://127.0.0.1:<port>``.

Delta's jars are not part of pyspark, so the tables are Spark's default Parquet tables: the
``spark`` dialect runs ``DELETE``/``UPDATE``/``MERGE`` as table rewrites, and the Databricks
statements that need Delta are checked by the golden files (tests/golden/databricks).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

HOW_TO_ENABLE = (
    "the Spark tests need Java 17+ and pyspark's Spark Connect client: run .ci/run, or "
    "`pip install -e '.[test]'` (pyspark[connect]) with a JDK on PATH or JAVA_HOME"
)
START_TIMEOUT = 120.0
# A running server to use instead of starting one (sc://host:port, started with the
# configuration of SparkConnectServer.start).
REMOTE_ENV = "LIGHTNING_TEST_SPARK_REMOTE"


def missing() -> str | None:
    """Why the Spark tests cannot run here (None: they can)."""
    try:
        import pyspark  # noqa: F401
        from pyspark.sql.connect.utils import check_dependencies

        check_dependencies()
    except Exception as error:  # noqa: BLE001 - any import problem is a reason
        return f"{HOW_TO_ENABLE} ({type(error).__name__}: {error})"
    java = Path(os.environ["JAVA_HOME"]) / "bin" / "java" if os.environ.get("JAVA_HOME") else None
    if not (java and java.exists()) and shutil.which("java") is None:
        return f"{HOW_TO_ENABLE} (no java on PATH)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SparkConnectServer:
    """``SparkConnectServer`` in a child JVM, for one test session."""

    def __init__(self, work_dir: Path):
        self.work_dir = work_dir
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = work_dir / "spark-connect.log"

    @property
    def url(self) -> str:
        return f"sc://127.0.0.1:{self.port}"

    def start(self) -> str:
        import pyspark

        home = Path(pyspark.__file__).resolve().parent
        conf = {
            "spark.connect.grpc.binding.address": "127.0.0.1",
            "spark.connect.grpc.binding.port": str(self.port),
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.ui.enabled": "false",
            "spark.sql.catalogImplementation": "in-memory",
            "spark.sql.warehouse.dir": str(self.work_dir / "warehouse"),
            "spark.sql.shuffle.partitions": "1",
            "spark.default.parallelism": "2",
            # Every session lists a table's files anew (see dialects/spark.py).
            "spark.sql.filesourceTableRelationCacheSize": "0",
            # Tables of a few rows: planning and compiling cost more than the data. Without
            # adaptive execution, whole-stage code generation, dynamic partition pruning and
            # Parquet compression, two warm run_basics tests cost the server 21-26 s of CPU
            # instead of 36 s (the statements and results are the same).
            "spark.sql.adaptive.enabled": "false",
            "spark.sql.codegen.wholeStage": "false",
            "spark.sql.optimizer.dynamicPartitionPruning.enabled": "false",
            "spark.sql.parquet.compression.codec": "uncompressed",
            "spark.hadoop.mapreduce.fileoutputcommitter.algorithm.version": "2",
        }
        command = [
            str(home / "bin" / "spark-submit"),
            "--class",
            "org.apache.spark.sql.connect.service.SparkConnectServer",
            "--master",
            "local[2]",
            "--driver-memory",
            "1g",
            # Tiered compilation (the JVM's default): the quick compiler alone spends less CPU
            # on the first two tests, but a CI run puts a hundred and more on each server.
            # Measured (a workspace, two runs and a drop, 12 times on one server): from the
            # 8th on, tiered compilation costs the server 6.5 s of CPU each against 8 s, and
            # 5.9-6.4 s of wall time against 7.2 s; after 12 its CPU total is still higher
            # (124 s against 113 s), its wall time already lower (90 s against 96 s).
            "--driver-java-options",
            "-XX:+UseSerialGC",
        ]
        for key, value in conf.items():
            command += ["--conf", f"{key}={value}"]
        env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
        env["SPARK_LOG_DIR"] = str(self.work_dir)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.work_dir
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Spark Connect server exited; see {self.log}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self.url
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(
            f"Spark Connect server did not start in {START_TIMEOUT} s; see {self.log}"
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
