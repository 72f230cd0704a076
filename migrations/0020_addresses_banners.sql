-- A shopper's address book: one address may be the default, filled in at checkout.
alter table saved_address add column is_default boolean not null default false;
create unique index saved_address_one_default on saved_address (user_id) where is_default;
-- the one each shopper used last becomes their default
update saved_address s set is_default = true
where saved_address_id = (select saved_address_id from saved_address t where t.user_id = s.user_id
                          order by created_at desc, saved_address_id desc limit 1);

-- The home page's hero banner, one per season or campaign, kept by national staff. Links stay on
-- this site; the picture is drawn from a motif, so nothing is fetched from elsewhere.
create table banner (
    banner_id bigint generated always as identity primary key,
    title text not null check (char_length(title) between 3 and 80),
    subtitle text not null default '' check (char_length(subtitle) <= 160),
    link text not null check (link ~ '^/[^/\\]' and char_length(link) <= 300),
    cta text not null check (char_length(cta) between 2 and 30),
    theme text not null check (theme in ('green', 'tet', 'summer', 'autumn')),
    motif text not null check (motif in ('tea', 'honey', 'rice', 'fish_sauce', 'seafood', 'coffee', 'liquor', 'cake', 'noodles', 'herb', 'textile', 'pottery', 'homestay')),
    starts_on date not null,
    ends_on date not null,
    created_by bigint not null references app_user,
    created_at timestamptz not null default now(),
    check (ends_on >= starts_on)
);
create index banner_current_idx on banner (ends_on);

create function banner_changed() returns trigger language plpgsql as $$
begin
    perform pg_notify('catalog_changed', 'banners:');
    return null;
end $$;
create trigger banner_changed after insert or update or delete on banner
    for each statement execute function banner_changed();

-- banners are staff decisions: they join the audit log
create or replace function write_audit_log() returns trigger language plpgsql as $$
declare
    actor bigint := nullif(current_setting('ocop.actor_id', true), '')::bigint;
    row_new jsonb;
    row_old jsonb;
    entity_key bigint;
    producer bigint;
    province smallint;
    who record;
begin
    if actor is null then
        return null;
    end if;
    -- callbacks' raw bodies and headers are evidence kept on the event itself, not log material
    if tg_op <> 'INSERT' then row_old := to_jsonb(old) - 'password_hash' - 'updated_at' - 'body' - 'headers'; end if;
    if tg_op <> 'DELETE' then row_new := to_jsonb(new) - 'password_hash' - 'updated_at' - 'body' - 'headers'; end if;
    if tg_op = 'UPDATE' and row_old = row_new then
        return null;
    end if;
    case tg_table_name
        when 'producer' then
            entity_key := coalesce(new.producer_id, old.producer_id);
            producer := entity_key;
        when 'product' then
            entity_key := coalesce(new.product_id, old.product_id);
            producer := coalesce(new.producer_id, old.producer_id);
        when 'certificate' then
            entity_key := coalesce(new.certificate_id, old.certificate_id);
            select p.producer_id into producer from product p
            where p.product_id = coalesce(new.product_id, old.product_id);
        when 'producer_member' then
            entity_key := coalesce(new.user_id, old.user_id);
            producer := coalesce(new.producer_id, old.producer_id);
        when 'app_user' then
            entity_key := coalesce(new.user_id, old.user_id);
            province := coalesce(new.province_code, old.province_code);
        when 'shop_order' then
            entity_key := coalesce(new.order_id, old.order_id);
            producer := coalesce(new.producer_id, old.producer_id);
        when 'banner' then
            entity_key := coalesce(new.banner_id, old.banner_id);
        when 'payment_event' then
            entity_key := coalesce(new.payment_event_id, old.payment_event_id);
            -- the province of the money's orders (one, or the first of several)
            select min(pr.province_code) into province
            from shop_order o join producer pr using (producer_id)
            where o.order_group_id = coalesce(new.order_group_id, old.order_group_id);
    end case;
    if producer is not null then
        select pr.province_code into province from producer pr where pr.producer_id = producer;
    end if;
    select display_name, role into who from app_user where user_id = actor;
    insert into audit_log (actor_id, actor_name, actor_role, action, reason, entity, entity_id,
                           operation, province_code, producer_id, before, after)
    values (actor, coalesce(who.display_name, '?'), coalesce(who.role, '?'),
            coalesce(nullif(current_setting('ocop.action', true), ''), tg_table_name || '.' || lower(tg_op)),
            nullif(current_setting('ocop.reason', true), ''),
            tg_table_name, entity_key, tg_op, province, producer, row_old, row_new);
    return null;
end
$$;
create trigger banner_audit after insert or update or delete on banner
    for each row execute function write_audit_log();

-- a product's units sold (all time), read with every catalog reload
create index stats_product_year_idx on stats_product (product_id) where tier = 'y';
