-- Carriers (issue 19), first part: what a parcel measures, which carriers each province uses,
-- where each carrier places our communes, and the quote the shopper accepted.

-- Producers enter weight (`weight_grams`, already there) and size; unset, a default by unit
-- applies (see shipping::parcel).
alter table product
    add column length_cm smallint check (length_cm between 1 and 200),
    add column width_cm smallint check (width_cm between 1 and 200),
    add column height_cm smallint check (height_cm between 1 and 200);

-- Which configured carriers a province offers (none listed: every configured carrier).
create table carrier_setting (
    province_code smallint not null references province,
    carrier text not null check (carrier in ('ghn', 'ghtk', 'viettelpost', 'sandbox')),
    enabled boolean not null,
    updated_at timestamptz not null default now(),
    updated_by bigint references app_user,
    primary key (province_code, carrier)
);

-- Our 2025 communes in each carrier's own codes, filled from its master data. A commune with no
-- row cannot be quoted or shipped by that carrier, and the producer is told so.
create table carrier_place (
    carrier text not null check (carrier in ('ghn', 'ghtk', 'viettelpost')),
    commune_code integer not null references commune,
    province_id bigint,
    district_id bigint,
    ward_id bigint,
    ward_code text,
    province_name text not null default '',
    district_name text not null default '',
    ward_name text not null default '',
    synced_at timestamptz not null default now(),
    primary key (carrier, commune_code)
);

-- The quote the shopper accepted, kept as it was: the fee is never recomputed silently.
-- `shipping_paid_by` says who bears the carrier's fee: the shopper (it is the shipping fee), or
-- the producer when its part ships free.
alter table shop_order
    add column ship_carrier text check (ship_carrier in ('ghn', 'ghtk', 'viettelpost', 'sandbox')),
    add column ship_service text,
    add column ship_quote_id text,
    add column ship_quote_fee bigint check (ship_quote_fee >= 0),
    add column ship_days_min smallint,
    add column ship_days_max smallint,
    add column shipping_paid_by text not null default 'shopper'
        check (shipping_paid_by in ('shopper', 'producer')),
    add constraint shop_order_ship_quote check ((ship_carrier is null) = (ship_quote_fee is null));

-- A parcel that could not be delivered comes back: `returning` (on its way back to the producer)
-- and `returned` (back; its stock is returned, and money paid online is owed to the shopper).
alter table shop_order drop constraint shop_order_status_check;
alter table shop_order add constraint shop_order_status_check check (status in
    ('pending_payment', 'placed', 'paid', 'confirmed', 'shipped', 'delivered', 'returning', 'returned',
     'cancelled', 'refunded'));
-- money paid online is still held while the parcel comes back
create or replace function order_is_paid(status text, method text) returns boolean
language sql immutable as $$
    select status in ('paid', 'confirmed', 'shipped', 'delivered', 'returning') and (method <> 'cod' or status = 'delivered')
$$;

-- One shipment per producer order at a time, created at the carrier when the producer confirms.
-- `state`: creating (the carrier is being asked), failed (it refused or did not answer: retry
-- reuses the row and our client code), active (the carrier has it), done (delivered or returned),
-- cancelled (a new one may be made).
create table shipment (
    shipment_id bigint generated always as identity primary key,
    order_id bigint not null references shop_order,
    carrier text not null check (carrier in ('ghn', 'ghtk', 'viettelpost', 'sandbox')),
    service text not null default '',
    -- our reference at the carrier, the same on every retry
    client_code text not null,
    tracking text,
    state text not null default 'creating'
        check (state in ('creating', 'failed', 'active', 'done', 'cancelled')),
    track text check (track in ('created', 'picked_up', 'in_transit', 'delivering', 'delivered',
                                'delivery_failed', 'returning', 'returned', 'cancelled', 'exception')),
    fee bigint check (fee >= 0),
    cod_amount bigint not null default 0 check (cod_amount >= 0),
    error text,
    label_url text,
    expected_at timestamptz,
    last_event_at timestamptz,
    next_poll_at timestamptz,
    cod_remitted_at timestamptz,
    created_by bigint references app_user,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (carrier, tracking),
    check (state not in ('active', 'done') or tracking is not null)
);
create unique index shipment_live_idx on shipment (order_id) where state <> 'cancelled';
create index shipment_poll_idx on shipment (next_poll_at) where state = 'active';
create index shipment_client_idx on shipment (carrier, client_code);
create trigger shipment_updated_at before update on shipment for each row execute function set_updated_at();

-- Every carrier webhook as it came, before it is read (like payment events), and what the
-- carrier said about each shipment, deduplicated on (carrier, tracking, status, time).
create table shipment_event (
    shipment_event_id bigint generated always as identity primary key,
    carrier text not null,
    received_at timestamptz not null default now(),
    source text not null check (source in ('webhook', 'poll', 'create', 'staff')),
    body text not null default '',
    dedupe_key text unique,
    shipment_id bigint references shipment,
    track text,
    carrier_status text,
    note text,
    at timestamptz,
    -- applied (moved the shipment), recorded (kept, moved nothing: older, backwards, duplicate
    -- of a state), unknown (no such shipment), refused (bad token, unreadable)
    outcome text not null default 'received'
        check (outcome in ('received', 'applied', 'recorded', 'unknown', 'refused')),
    reason text
);
create index shipment_event_shipment_idx on shipment_event (shipment_id, at);

-- The money carriers handle: cash on delivery a carrier collected and owes us until it remits
-- it, and what we owe the carriers for carrying.
alter table journal_line drop constraint journal_line_account_check;
alter table journal_line add constraint journal_line_account_check check (account in (
    'clearing_bank', 'clearing_vnpay', 'clearing_momo', 'clearing_stripe', 'cash_collected',
    'held', 'payable', 'commission', 'vat_withheld', 'pit_withheld', 'provider_fees',
    'refunds_owed', 'payouts_in_flight', 'adjustments', 'carrier_cod', 'carriers_payable'));
alter table journal_entry drop constraint journal_entry_event_check;
alter table journal_entry add constraint journal_entry_event_check check (event in ('payment',
    'cash_collected', 'release', 'reversal', 'refund', 'payout_sent', 'payout_paid', 'payout_failed',
    'payout_returned', 'adjustment', 'cod_remitted'));
