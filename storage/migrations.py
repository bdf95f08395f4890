"""The schema as an ordered list of SQL scripts; `PRAGMA user_version` counts those applied.

Never edit a script that has shipped: append a new one. Script N (1-based) moves the database from
user_version N-1 to N.
"""

from __future__ import annotations

_V1 = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    platform_user_id TEXT NOT NULL,
    chat_id TEXT NOT NULL DEFAULT '',
    display_name TEXT NOT NULL DEFAULT '',
    alerts_enabled INTEGER NOT NULL DEFAULT 1,
    low_balance_threshold TEXT,
    low_balance_alerted INTEGER NOT NULL DEFAULT 0,
    last_balance_check_at REAL,
    created_at REAL NOT NULL,
    UNIQUE (platform, platform_user_id)
);

CREATE TABLE credentials (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    panel_url TEXT NOT NULL,
    ciphertext BLOB NOT NULL,
    hint TEXT NOT NULL DEFAULT '',
    is_active INTEGER NOT NULL DEFAULT 0,
    invalid INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (user_id, panel_url)
);
-- At most one active key per user, enforced by the database itself.
CREATE UNIQUE INDEX credentials_one_active ON credentials (user_id) WHERE is_active = 1;

CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id INTEGER REFERENCES credentials (id) ON DELETE SET NULL,
    panel_url TEXT NOT NULL,
    panel_order_id TEXT,
    intent_token TEXT UNIQUE,
    state TEXT NOT NULL
        CHECK (state IN ('intent', 'placed', 'unknown', 'failed', 'tracked')),
    service_id TEXT NOT NULL DEFAULT '',
    service_name TEXT NOT NULL DEFAULT '',
    service_type TEXT NOT NULL DEFAULT '',
    link TEXT NOT NULL DEFAULT '',
    quantity INTEGER,
    fields TEXT NOT NULL DEFAULT '{}',
    cost TEXT,
    charge TEXT,
    currency TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT '',
    raw_status TEXT NOT NULL DEFAULT '',
    remains INTEGER,
    start_count INTEGER,
    is_final INTEGER NOT NULL DEFAULT 0,
    can_refill INTEGER NOT NULL DEFAULT 0,
    can_cancel INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    last_checked_at REAL,
    next_check_at REAL,
    unchanged_checks INTEGER NOT NULL DEFAULT 0,
    UNIQUE (panel_url, panel_order_id, user_id)
);
CREATE INDEX orders_due ON orders (is_final, next_check_at);
CREATE INDEX orders_by_user ON orders (user_id, created_at DESC);
-- Deleting a credential sets orders.credential_id to NULL: without this it scans every order.
CREATE INDEX orders_by_credential ON orders (credential_id);

CREATE TABLE refills (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    order_id INTEGER REFERENCES orders (id) ON DELETE CASCADE,
    panel_url TEXT NOT NULL,
    credential_id INTEGER REFERENCES credentials (id) ON DELETE SET NULL,
    panel_order_id TEXT NOT NULL,
    panel_refill_id TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT '',
    raw_status TEXT NOT NULL DEFAULT '',
    is_final INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    last_checked_at REAL,
    next_check_at REAL,
    unchanged_checks INTEGER NOT NULL DEFAULT 0,
    UNIQUE (panel_url, panel_refill_id, user_id)
);
CREATE INDEX refills_due ON refills (is_final, next_check_at);
CREATE INDEX refills_by_user ON refills (user_id, created_at DESC);
CREATE INDEX refills_by_order ON refills (order_id);
CREATE INDEX refills_by_credential ON refills (credential_id);

CREATE TABLE conversations (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    updated_at REAL NOT NULL
);

CREATE TABLE actions (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX actions_by_user ON actions (user_id);
CREATE INDEX actions_by_age ON actions (created_at);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    dedupe_key TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    delivered_at REAL,
    failed_at REAL,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox (delivered_at, next_attempt_at);
CREATE INDEX outbox_by_user ON outbox (user_id);

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

MIGRATIONS: tuple[str, ...] = (_V1,)
