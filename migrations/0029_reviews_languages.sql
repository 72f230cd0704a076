-- Visitors who read English, and what buyers say: products' English text, the language an order
-- was placed in (its mails speak it), indicative exchange rates, and reviews by verified buyers.

alter table product
    add column name_en text check (name_en is null or length(btrim(name_en)) between 2 and 200),
    add column story_en text check (story_en is null or length(story_en) <= 5000),
    -- kept by the review transactions, so the catalog snapshot reads them with the product
    add column rating_sum integer not null default 0 check (rating_sum >= 0),
    add column rating_count integer not null default 0 check (rating_count >= 0);

alter table order_group add column lang text not null default 'vi' check (lang ~ '^[a-z]{2}$');

-- What a visitor's currency is worth, entered by staff: there is no live feed, and the amount
-- shown is labelled as indicative.
create table fx_rate (
    currency text primary key check (currency ~ '^[A-Z]{3}$'),
    vnd_per_unit numeric(14, 4) not null check (vnd_per_unit > 0),
    updated_at timestamptz not null default now(),
    updated_by bigint references app_user on delete set null
);
insert into fx_rate (currency, vnd_per_unit) values
    ('USD', 26300), ('EUR', 30500), ('CNY', 3650), ('KRW', 18.5);

create or replace function notify_fx_change() returns trigger language plpgsql as $$
begin
    perform pg_notify('catalog_changed', 'fx:');
    return null;
end
$$;
create trigger fx_rate_notify after insert or update or delete on fx_rate
    for each statement execute function notify_fx_change();

-- One review per order line, by the buyer, once the line is delivered (or the tour attended).
create table review (
    review_id bigint generated always as identity primary key,
    order_id bigint not null,
    product_id bigint not null references product,
    producer_id bigint not null references producer,
    province_code smallint not null,
    author text not null check (length(btrim(author)) between 1 and 120),
    rating smallint not null check (rating between 1 and 5),
    body text not null default '' check (length(body) <= 2000),
    photos text[] not null default '{}' check (cardinality(photos) <= 3),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    reply text check (reply is null or length(btrim(reply)) between 1 and 2000),
    replied_at timestamptz,
    replied_by bigint references app_user on delete set null,
    hidden_at timestamptz,
    hidden_reason text check (hidden_reason is null or length(btrim(hidden_reason)) between 3 and 500),
    hidden_by bigint references app_user on delete set null,
    unique (order_id, product_id),
    foreign key (order_id, product_id) references order_line (order_id, product_id),
    check ((hidden_at is null) = (hidden_reason is null)),
    check ((reply is null) = (replied_at is null))
);
create index review_product_idx on review (product_id, created_at desc) where hidden_at is null;
create index review_producer_idx on review (producer_id, created_at desc);
create index review_province_idx on review (province_code, created_at desc);
create trigger review_updated_at before update on review for each row execute function set_updated_at();

-- Shoppers flag abuse; staff of the review's province see the flags.
create table review_report (
    review_id bigint not null references review,
    -- the reporter: "u<user id>" or a hash of the client address
    reporter text not null check (length(reporter) between 2 and 80),
    reason text not null check (length(btrim(reason)) between 3 and 500),
    created_at timestamptz not null default now(),
    primary key (review_id, reporter)
);

-- A product's English name is found by search too, weighed as its name.
create or replace function product_search_fields() returns trigger language plpgsql as $$
begin
    new.search_name := fold(concat_ws(' ', new.name, new.name_en));
    select fold(concat_ws(' ', pr.name, c.name, pv.name, sector_label(new.sector)))
      into new.search_extra
      from producer pr
      join commune c on c.commune_code = pr.commune_code
      join province pv on pv.province_code = pr.province_code
     where pr.producer_id = new.producer_id;
    insert into search_word (word)
    select distinct w from regexp_split_to_table(concat_ws(' ', new.search_name, new.search_extra, fold(new.story)), '[^a-z0-9]+') w
     where length(w) > 0
    on conflict do nothing;
    return new;
end
$$;
drop trigger product_search_fields on product;
create trigger product_search_fields before insert or update of name, name_en, sector, producer_id, story on product
    for each row execute function product_search_fields();

-- Staff hiding a review, and a producer's reply, are in the audit log like every portal change.
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
    if tg_op <> 'INSERT' then row_old := to_jsonb(old) - 'password_hash' - 'updated_at'; end if;
    if tg_op <> 'DELETE' then row_new := to_jsonb(new) - 'password_hash' - 'updated_at'; end if;
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
        when 'review' then
            entity_key := coalesce(new.review_id, old.review_id);
            producer := coalesce(new.producer_id, old.producer_id);
        else
            entity_key := 0;
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
create trigger review_audit after update of hidden_at, hidden_reason, reply on review
    for each row execute function write_audit_log();
