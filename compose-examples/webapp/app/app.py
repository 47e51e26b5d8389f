"""The shop's front page: every visit is a row in PostgreSQL and a counter in Redis."""

import os
import socket

from flask import Flask, jsonify

from settings import cache, connect_db

app = Flask(__name__)
redis_client = cache()
VERSION = os.environ.get("APP_VERSION", "1")
RELEASE = os.environ.get("APP_RELEASE", "1")  # baked into the image at build time


@app.get("/")
def index():
    hits = redis_client.incr("hits")
    conn = connect_db()
    try:
        with conn, conn.cursor() as cur:
            cur.execute("INSERT INTO visits (replica) VALUES (%s) RETURNING id", (socket.gethostname(),))
            visit = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM visits")
            rows = cur.fetchone()[0]
    finally:
        conn.close()
    return jsonify(version=VERSION, release=RELEASE, replica=socket.gethostname(), visit=visit, rows=rows,
                   hits=hits)


@app.get("/healthz")
def healthz():
    connect_db().close()
    redis_client.ping()
    return "ok\n"
