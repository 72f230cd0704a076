-- The catalog: producers (chủ thể OCOP), their products and the products' OCOP certificates.
-- The database refuses what cannot be true, whatever code path writes.

create table producer (
    producer_id bigint generated always as identity primary key,
    slug text not null unique check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(slug) <= 120),
    name text not null check (length(btrim(name)) between 2 and 200),
    producer_type text not null check (producer_type in ('cooperative', 'firm', 'household', 'coop_group')),
    province_code smallint not null,
    commune_code integer not null,
    address text not null default '',
    phone text,
    email text,
    registration_no text,
    story text not null default '',
    status text not null default 'approved' check (status in ('pending', 'approved', 'rejected')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    -- one key for both: the commune must lie in the province
    foreign key (province_code, commune_code) references commune (province_code, commune_code)
);
-- Imports recognise a producer by its name within its commune.
create unique index producer_commune_name_key on producer (commune_code, lower(name));
create index producer_province_idx on producer (province_code);
create trigger producer_updated_at before update on producer for each row execute function set_updated_at();

create table product (
    product_id bigint generated always as identity primary key,
    producer_id bigint not null references producer,
    slug text not null unique check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(slug) <= 160),
    name text not null check (length(btrim(name)) between 2 and 200),
    sector text not null check (sector in ('food', 'beverage', 'herbal', 'textile', 'souvenir', 'tourism')),
    story text not null default '',
    price_vnd bigint not null check (price_vnd between 1 and 1000000000),
    stock integer not null default 0 check (stock >= 0),
    unit text not null default 'sản phẩm' check (length(btrim(unit)) between 1 and 40),
    weight_grams integer check (weight_grams > 0),
    images text[] not null default '{}',
    hidden boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
-- Imports recognise a product by its name within its producer (and so within a commune).
create unique index product_producer_name_key on product (producer_id, lower(name));
create trigger product_updated_at before update on product for each row execute function set_updated_at();

create table certificate (
    certificate_id bigint generated always as identity primary key,
    product_id bigint not null references product on delete cascade,
    stars smallint not null check (stars between 3 and 5),
    -- 5★ is awarded by the central council, 3★ and 4★ by provincial councils
    awarding_level text not null check (awarding_level in ('central', 'provincial')),
    awarding_body text not null default '',
    decision_number text not null check (length(btrim(decision_number)) between 1 and 80),
    issued_on date not null,
    -- 36 months after issue unless the decision says otherwise; the first day it is no longer valid
    expires_on date not null,
    potential_five_star boolean not null default false,
    status text not null default 'active' check (status in ('active', 'revoked')),
    revoked_on date,
    revoked_reason text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check (expires_on > issued_on),
    check ((stars = 5) = (awarding_level = 'central')),
    check (not potential_five_star or stars = 4),
    check ((status = 'active' and revoked_on is null and revoked_reason is null)
        or (status = 'revoked' and revoked_on is not null and length(btrim(coalesce(revoked_reason, ''))) > 0)),
    unique (product_id, decision_number)
);
create index certificate_product_idx on certificate (product_id, issued_on desc);
create trigger certificate_updated_at before update on certificate for each row execute function set_updated_at();

-- Every app instance keeps a read model of the catalog in memory (the listing answers without SQL);
-- these notifications tell all instances which products to reload.
create or replace function notify_catalog_change() returns trigger language plpgsql as $$
declare
    row_data record;
begin
    if tg_op = 'DELETE' then row_data := old; else row_data := new; end if;
    if tg_table_name = 'producer' then
        perform pg_notify('catalog_changed', 'producer:' || row_data.producer_id);
    else
        perform pg_notify('catalog_changed', 'product:' || row_data.product_id);
    end if;
    return null;
end
$$;
create trigger producer_notify after insert or update or delete on producer for each row execute function notify_catalog_change();
create trigger product_notify after insert or update or delete on product for each row execute function notify_catalog_change();
create trigger certificate_notify after insert or update or delete on certificate for each row execute function notify_catalog_change();
