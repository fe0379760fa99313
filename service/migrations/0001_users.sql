-- Users and their bcrypt password hashes. Addresses are compared in canonical form
-- (NFKC + casefold, computed by the service); the display form is what the user typed.
CREATE TABLE IF NOT EXISTS users (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email           text        NOT NULL,
    email_canonical text        NOT NULL,
    password_hash   text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX IF NOT EXISTS users_email_canonical_key ON users (email_canonical);
