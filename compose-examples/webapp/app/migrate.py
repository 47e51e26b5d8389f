"""One-shot schema migration: the app's services wait for it to exit 0."""

import sys
import time

import psycopg2

from settings import connect_db

SCHEMA = """
CREATE TABLE IF NOT EXISTS visits (
    id serial PRIMARY KEY,
    replica text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
)
"""

for attempt in range(30):
    try:
        conn = connect_db()
        break
    except psycopg2.OperationalError as exc:
        print(f"database not ready ({exc.args[0].strip()}), retrying", flush=True)
        time.sleep(1)
else:
    sys.exit("database never became ready")
with conn, conn.cursor() as cur:
    cur.execute(SCHEMA)
conn.close()
print("migrated: table visits is there", flush=True)
