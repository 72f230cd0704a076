-- The money loop: a double-entry ledger, the rates it applies (commission, payment fees, tax
-- withheld for households under Decree 117/2025), producers' legal identity and payout accounts,
-- and payout runs.

-- ---------- the ledger ----------

-- One business event, posted once: `key` is the event's idempotency key ("paid:<order>",
-- "release:<order>", "payout:<line>", ...), so a replayed callback or a rerun job posts nothing.
create table journal_entry (
    entry_id bigint generated always as identity primary key,
    key text not null unique check (length(key) between 3 and 120),
    event text not null check (event in ('payment', 'cash_collected', 'release', 'reversal', 'refund',
        'payout_sent', 'payout_paid', 'payout_failed', 'payout_returned', 'adjustment')),
    order_id bigint references shop_order,
    producer_id bigint references producer,
    province_code smallint,
    payout_line_id bigint,
    memo text check (length(memo) <= 500),
    actor_id bigint references app_user,
    at timestamptz not null default now()
);
create index journal_entry_order_idx on journal_entry (order_id) where order_id is not null;
create index journal_entry_month_idx on journal_entry (province_code, at);
-- a producer's statement for a month starts from its entries of that month
create index journal_entry_producer_idx on journal_entry (producer_id, at) where producer_id is not null;

-- Signed amounts: debits positive, credits negative. The accounts are a closed set; a
-- producer's accounts (money held for its orders, what it is owed) carry its id.
create table journal_line (
    entry_id bigint not null references journal_entry,
    account text not null check (account in (
        'clearing_bank', 'clearing_vnpay', 'clearing_momo', 'clearing_stripe', 'cash_collected',
        'held', 'payable', 'commission', 'vat_withheld', 'pit_withheld', 'provider_fees',
        'refunds_owed', 'payouts_in_flight', 'adjustments')),
    producer_id bigint references producer,
    -- what the amount is, as a statement shows it
    component text not null check (component in ('payment', 'fee', 'goods', 'shipping', 'commission',
        'vat', 'pit', 'cash', 'refund', 'payout', 'adjustment')),
    amount bigint not null check (amount <> 0),
    check ((account in ('held', 'payable')) = (producer_id is not null))
);
create index journal_line_entry_idx on journal_line (entry_id);
create index journal_line_producer_idx on journal_line (producer_id, account) include (amount)
    where producer_id is not null;

-- Every entry sums to zero: checked over whole entries after each statement that adds lines, so
-- lines cannot be slipped into an entry later either.
create function journal_balanced() returns trigger language plpgsql as $$
begin
    if exists (
        select 1 from journal_line l
        where l.entry_id in (select distinct entry_id from new_lines)
        group by l.entry_id having sum(l.amount) <> 0
    ) then
        raise exception 'a journal entry must sum to zero' using errcode = '23514';
    end if;
    return null;
end
$$;
create trigger journal_line_balanced after insert on journal_line
    referencing new table as new_lines for each statement execute function journal_balanced();

-- An entry has lines by the time its transaction commits.
create function journal_entry_has_lines() returns trigger language plpgsql as $$
begin
    if not exists (select 1 from journal_line where entry_id = new.entry_id) then
        raise exception 'journal entry % has no lines', new.key using errcode = '23514';
    end if;
    return null;
end
$$;
create constraint trigger journal_entry_lines after insert on journal_entry
    deferrable initially deferred for each row execute function journal_entry_has_lines();

-- Never updated or deleted: a correction is a new entry.
create function journal_immutable() returns trigger language plpgsql as $$
begin
    raise exception 'the ledger is append-only: post a reversing entry instead' using errcode = '42501';
end
$$;
create trigger journal_entry_immutable before update or delete on journal_entry
    for each row execute function journal_immutable();
create trigger journal_line_immutable before update or delete on journal_line
    for each row execute function journal_immutable();
create trigger journal_entry_no_truncate before truncate on journal_entry
    for each statement execute function journal_immutable();
create trigger journal_line_no_truncate before truncate on journal_line
    for each statement execute function journal_immutable();

-- When the return window starts.
alter table shop_order add column delivered_at timestamptz;
-- Delivered orders whose money is still held, by when their return window ends: what the
-- release job reads (never a scan of every delivered order). Settlement keeps it.
create table settlement_due (
    order_id bigint primary key references shop_order,
    due_at timestamptz not null
);
create index settlement_due_at_idx on settlement_due (due_at);
update shop_order o set delivered_at = coalesce(
    (select max(e.at) from order_event e where e.order_id = o.order_id and e.to_status = 'delivered'),
    o.updated_at)
where o.status in ('delivered', 'refunded');

-- ---------- rates ----------

-- Commission in basis points. The most specific rule in force when the order was placed wins:
-- a producer's own, then its province's, then by sector and producer type; dated, so a change
-- applies to orders placed after it.
create table commission_rule (
    commission_rule_id bigint generated always as identity primary key,
    province_code smallint references province,
    producer_id bigint references producer,
    sector text check (sector in ('food', 'beverage', 'herbal', 'textile', 'souvenir', 'tourism')),
    producer_type text check (producer_type in ('cooperative', 'firm', 'household', 'coop_group')),
    rate_bp integer not null check (rate_bp between 0 and 3000),
    valid_from timestamptz not null,
    reason text not null check (length(btrim(reason)) >= 3),
    created_by bigint references app_user,
    created_at timestamptz not null default now()
);
create index commission_rule_from_idx on commission_rule (valid_from);
-- the documented default: 5% on goods, from the marketplace's start
insert into commission_rule (rate_bp, valid_from, reason)
values (500, '2025-01-01T00:00:00+07', 'Mặc định của sàn: 5% giá trị hàng');

-- What each payment channel charges, and who bears it. Cash on delivery costs nothing.
create table channel_fee (
    method text primary key check (method in ('vietqr', 'vnpay', 'momo', 'card')),
    rate_bp integer not null check (rate_bp between 0 and 1000),
    payer text not null check (payer in ('marketplace', 'producer')),
    updated_at timestamptz not null default now()
);
insert into channel_fee (method, rate_bp, payer) values
    ('vietqr', 0, 'marketplace'), ('vnpay', 110, 'marketplace'),
    ('momo', 150, 'marketplace'), ('card', 290, 'marketplace');

-- Rates the platform withholds for household and individual sellers (Decree 117/2025/NĐ-CP).
create table tax_rate (
    kind text not null check (kind in ('goods', 'services', 'transport')),
    vat_bp integer not null check (vat_bp between 0 and 1000),
    pit_bp integer not null check (pit_bp between 0 and 1000),
    valid_from date not null,
    basis text not null,
    primary key (kind, valid_from)
);
insert into tax_rate values
    ('goods', 100, 50, '2025-07-01', 'Nghị định 117/2025/NĐ-CP: phân phối, cung cấp hàng hoá'),
    ('services', 500, 200, '2025-07-01', 'Nghị định 117/2025/NĐ-CP: dịch vụ'),
    ('transport', 300, 150, '2025-07-01', 'Nghị định 117/2025/NĐ-CP: vận tải, dịch vụ gắn với hàng hoá');

-- One row: how settlement runs.
create table settlement_setting (
    only_row boolean primary key default true check (only_row),
    return_window_days integer not null default 7 check (return_window_days between 0 and 60),
    payout_min_vnd bigint not null default 100000 check (payout_min_vnd between 1 and 100000000),
    -- payouts wait this long after bank details change (account-takeover fraud)
    bank_change_hold_hours integer not null default 72 check (bank_change_hold_hours between 0 and 720),
    -- ISO weekday of the weekly run (1 = Monday)
    payout_weekday integer not null default 1 check (payout_weekday between 1 and 7)
);
insert into settlement_setting default values;

-- ---------- who is paid, and where ----------

alter table producer
    add column tax_code text check (tax_code ~ '^[0-9]{10}(-[0-9]{3})?$'),
    add column citizen_id text check (citizen_id ~ '^[0-9]{12}$'),
    -- set when staff have compared the identity with the papers; cleared when it changes
    add column identity_checked_at timestamptz,
    add column identity_checked_by bigint references app_user;

create table payout_account (
    producer_id bigint primary key references producer,
    bank_bin text not null check (bank_bin ~ '^9704[0-9]{2}$'),
    account_no text not null check (account_no ~ '^[0-9]{6,19}$'),
    holder_name text not null check (holder_name ~ '^[A-Z ]{2,70}$'),
    changed_at timestamptz not null default now(),
    changed_by bigint references app_user,
    -- no payout before this moment
    payouts_from timestamptz not null default now()
);

create table payout_run (
    payout_run_id bigint generated always as identity primary key,
    province_code smallint not null references province,
    run_on date not null,
    started_by bigint references app_user,
    created_at timestamptz not null default now(),
    -- two instances (or two staff) starting the same day's run make one
    unique (province_code, run_on)
);

create sequence payout_reference_seq;

create table payout_line (
    payout_line_id bigint generated always as identity primary key,
    payout_run_id bigint not null references payout_run,
    producer_id bigint not null references producer,
    amount bigint not null check (amount > 0),
    bank_bin text not null,
    account_no text not null,
    holder_name text not null,
    -- goes into the transfer memo; the bank webhook finds the line by it
    reference text not null unique check (reference ~ '^OCOPPAY[0-9]{8}$')
        default ('OCOPPAY' || lpad(nextval('payout_reference_seq')::text, 8, '0')),
    -- sent → paid | failed; paid → returned
    status text not null default 'sent' check (status in ('sent', 'paid', 'failed', 'returned')),
    bank_ref text,
    note text,
    settled_at timestamptz,
    settled_by bigint references app_user,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (payout_run_id, producer_id)
);
create index payout_line_producer_idx on payout_line (producer_id, created_at desc);
create trigger payout_line_updated_at before update on payout_line for each row execute function set_updated_at();

-- Staff actions on payouts and commission go to the audit log.
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
        when 'payout_account' then
            entity_key := coalesce(new.producer_id, old.producer_id);
            producer := entity_key;
        when 'payout_run' then
            entity_key := coalesce(new.payout_run_id, old.payout_run_id);
            province := coalesce(new.province_code, old.province_code);
        when 'payout_line' then
            entity_key := coalesce(new.payout_line_id, old.payout_line_id);
            producer := coalesce(new.producer_id, old.producer_id);
        when 'commission_rule' then
            entity_key := coalesce(new.commission_rule_id, old.commission_rule_id);
            producer := coalesce(new.producer_id, old.producer_id);
            province := coalesce(new.province_code, old.province_code);
        when 'journal_entry' then
            entity_key := new.entry_id;
            producer := new.producer_id;
        when 'channel_fee', 'settlement_setting' then
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

create trigger payout_account_audit after insert or update on payout_account
    for each row execute function write_audit_log();
create trigger payout_run_audit after insert on payout_run
    for each row execute function write_audit_log();
create trigger payout_line_audit after update of status on payout_line
    for each row execute function write_audit_log();
create trigger commission_rule_audit after insert on commission_rule
    for each row execute function write_audit_log();
create trigger journal_entry_audit after insert on journal_entry
    for each row when (new.event = 'adjustment') execute function write_audit_log();
create trigger channel_fee_audit after update on channel_fee
    for each row execute function write_audit_log();
create trigger settlement_setting_audit after update on settlement_setting
    for each row execute function write_audit_log();

-- The dashboards' commission and tax withheld per Vietnamese day and province, kept as entries
-- are posted. Only releases, reversals and adjustments touch these accounts (the job and staff,
-- never a shopper's request), so the rows are not contended.
create table ledger_day (
    day date not null,
    province_code smallint not null,
    account text not null,
    amount bigint not null,
    primary key (day, province_code, account)
);
create function ledger_day_fold() returns trigger language plpgsql as $$
begin
    insert into ledger_day (day, province_code, account, amount)
    select (e.at at time zone 'Asia/Ho_Chi_Minh')::date, coalesce(e.province_code, 0), l.account, sum(l.amount)
    from new_lines l join journal_entry e using (entry_id)
    where l.account in ('commission', 'vat_withheld', 'pit_withheld')
    group by 1, 2, 3
    on conflict (day, province_code, account) do update set amount = ledger_day.amount + excluded.amount;
    return null;
end
$$;
create trigger journal_line_ledger_day after insert on journal_line
    referencing new table as new_lines for each statement execute function ledger_day_fold();
