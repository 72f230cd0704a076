-- The national OCOP registry, read by `ocop-market registry-sync`: what it says that differs from
-- the marketplace, as findings staff decide on. Nothing changes without a decision, except what a
-- province chose to apply by itself (an expiry date the registry shows earlier).

create table registry_run (
    registry_run_id bigint generated always as identity primary key,
    source text not null,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    products_read integer not null default 0,
    matched integer not null default 0
);

create table registry_finding (
    registry_finding_id bigint generated always as identity primary key,
    run_id bigint not null references registry_run,
    province_code smallint references province,
    kind text not null check (kind in ('stars_differ', 'expiry_earlier', 'expiry_later',
        'expired_in_registry', 'missing_in_registry', 'not_on_marketplace')),
    product_id bigint references product on delete cascade,
    certificate_id bigint references certificate on delete cascade,
    -- the registry's own id of the product, when the finding is about one of its records
    registry_id text,
    -- what the registry says: name, stars, certificate number, dates, manufacturer
    registry jsonb not null default '{}',
    state text not null default 'open'
        check (state in ('open', 'applied', 'dismissed', 'auto_applied', 'resolved')),
    decided_by bigint references app_user on delete set null,
    decided_at timestamptz,
    note text,
    created_at timestamptz not null default now()
);
-- one open finding per thing: a new run refreshes it rather than adding another
create unique index registry_finding_open_idx on registry_finding
    (kind, coalesce(certificate_id, 0), coalesce(registry_id, '')) where state = 'open';
create index registry_finding_province_idx on registry_finding (province_code, state);

-- What a province lets the sync apply by itself.
create table registry_setting (
    province_code smallint primary key references province,
    auto_earlier_expiry boolean not null default false,
    updated_by bigint references app_user on delete set null,
    updated_at timestamptz not null default now()
);
