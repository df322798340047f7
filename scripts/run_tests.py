"""Run the whole suite: on SQLite, then on PostgreSQL + Redis when 127.0.0.1:5432 and :6379
answer (a fresh database each run, dropped afterwards). Exit code: non-zero if any run failed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def pytest(label: str, env: dict) -> int:
    print(f"\n=== test suite on {label} ===", flush=True)
    return subprocess.call([sys.executable, "-m", "pytest", *sys.argv[1:]], env=env)


def on_postgres(base_env: dict) -> int:
    import psycopg2

    name = f"waddlebot_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(ADMIN_DSN)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        env = dict(base_env, TEST_DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{name}")
        if answers(6379):
            env["TEST_REDIS_URL"] = "redis://127.0.0.1:6379/0"
        return pytest("PostgreSQL" + (" + Redis" if "TEST_REDIS_URL" in env else ""), env)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def main() -> int:
    base_env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "TEST_REDIS_URL")}
    codes = [pytest("SQLite (in-memory cache)", base_env)]
    if answers(5432):
        codes.append(on_postgres(base_env))
    else:
        print("PostgreSQL does not answer on 127.0.0.1:5432: the PostgreSQL run is skipped", flush=True)
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
