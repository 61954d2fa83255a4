-- Accounts, their sessions, and failed sign-ins (SPEC section 6).

-- People who sign in. The email is compared case-insensitively; the password
-- is stored only as an argon2 PHC string. A disabled account cannot sign in
-- and its sessions stop working at their next request.
CREATE TABLE switchyard.accounts (
    id             bigserial PRIMARY KEY,
    email          text NOT NULL CHECK (length(email) BETWEEN 3 AND 254 AND email LIKE '%_@_%'),
    password_hash  text NOT NULL CHECK (password_hash LIKE '$argon2%'),
    role           text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    disabled_at    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_email_key ON switchyard.accounts (lower(email));

-- Server-side sessions, in the shape tower-sessions' Postgres store reads and
-- writes (the store is pointed at this table instead of creating its own).
CREATE TABLE switchyard.sessions (
    id           text PRIMARY KEY,
    data         bytea NOT NULL,
    expiry_date  timestamptz NOT NULL
);
CREATE INDEX sessions_expiry_idx ON switchyard.sessions (expiry_date);

-- Failed sign-ins, by account (the email as typed, lower-cased, whether or
-- not an account has it) and by client address. Only recent rows count; old
-- ones are deleted as new ones come.
CREATE TABLE switchyard.sign_in_failures (
    id         bigserial PRIMARY KEY,
    scope      text NOT NULL CHECK (scope IN ('account', 'address')),
    key        text NOT NULL,
    failed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sign_in_failures_key_idx ON switchyard.sign_in_failures (scope, key, failed_at);
