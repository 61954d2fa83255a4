-- Sign-in device cookies (OWASP "device cookies"): a browser that signed in
-- to an account carries a cookie signed with a server secret, so failures
-- from other clients that hold the account back do not hold it back.

-- Secrets the server keeps in its database (every instance shares them):
-- one row, 'device_cookie', the HMAC key, 32 random bytes written by the
-- first server that needs it.
CREATE TABLE switchyard.server_secrets (
    name        text PRIMARY KEY,
    value       bytea NOT NULL CHECK (length(value) >= 32),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Failed sign-ins are also counted per device cookie (its nonce).
ALTER TABLE switchyard.sign_in_failures DROP CONSTRAINT sign_in_failures_scope_check;
ALTER TABLE switchyard.sign_in_failures
    ADD CONSTRAINT sign_in_failures_scope_check CHECK (scope IN ('account', 'address', 'device'));
