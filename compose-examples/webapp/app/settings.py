"""Where the app finds its database and cache: the environment and a Compose secret."""

import os
from pathlib import Path

import psycopg2
import redis


def db_password() -> str:
    return Path(os.environ["DB_PASSWORD_FILE"]).read_text().strip()


def connect_db():
    return psycopg2.connect(host=os.environ["DB_HOST"], dbname=os.environ["DB_NAME"], user=os.environ["DB_USER"],
                            password=db_password(), connect_timeout=3)


def cache() -> redis.Redis:
    return redis.Redis(host=os.environ.get("CACHE_HOST", "cache"), socket_timeout=2, socket_connect_timeout=2)
