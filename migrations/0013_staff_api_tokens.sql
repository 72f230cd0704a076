-- Tokens that let a province's reporting system read its numbers (GET /api/v1/stats/...). Only a
-- hash is kept; the token is shown once, when it is made.
create table staff_api_token (
    token_hash text primary key check (token_hash ~ '^[0-9a-f]{64}$'),
    user_id bigint not null references app_user on delete cascade,
    label text not null default '',
    created_at timestamptz not null default now(),
    last_used_at timestamptz
);
create index staff_api_token_user_idx on staff_api_token (user_id);
