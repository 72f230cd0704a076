-- Fairs and OCOP sales points: staff create an event, invite producers; a producer's member
-- sells from a phone (the till) by VietQR or cash, and every sale counts in the province's
-- numbers as its own channel.

create table sale_event (
    event_id bigint generated always as identity primary key,
    kind text not null check (kind in ('fair', 'sales_point')),
    name text not null check (length(btrim(name)) between 3 and 200),
    province_code smallint not null,
    commune_code integer not null,
    place text not null check (length(btrim(place)) between 3 and 300),
    starts_on date not null,
    -- a permanent sales point has no end; a fair always has one
    ends_on date check (ends_on >= starts_on),
    created_by bigint references app_user,
    created_at timestamptz not null default now(),
    foreign key (province_code, commune_code) references commune (province_code, commune_code),
    check (kind = 'sales_point' or ends_on is not null)
);
create index sale_event_province_idx on sale_event (province_code, starts_on desc);

create table event_producer (
    event_id bigint not null references sale_event,
    producer_id bigint not null references producer,
    invited_by bigint references app_user,
    invited_at timestamptz not null default now(),
    accepted_at timestamptz,
    declined_at timestamptz,
    -- the till's QR pays the producer's own account (its payout account) instead of the
    -- marketplace's: recorded for the numbers only, never in the ledger
    own_account boolean not null default false,
    primary key (event_id, producer_id),
    check (accepted_at is null or declined_at is null)
);
create index event_producer_producer_idx on event_producer (producer_id);

create table till_sale (
    sale_id bigint generated always as identity primary key,
    -- in the transfer memo; made by the phone so a sale can start offline
    code text not null unique check (code ~ '^QB[A-HJ-NP-Z2-9]{6}$'),
    -- the phone's id for the sale: sending it again (a queued sale replayed) is harmless
    client_key text not null unique
        check (client_key ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
    event_id bigint not null references sale_event,
    producer_id bigint not null references producer,
    province_code smallint not null,
    channel text not null check (channel in ('fair', 'sales_point')),
    seller_id bigint references app_user,
    method text not null check (method in ('vietqr', 'cash')),
    -- the QR paid the marketplace's account (the money is owed to the producer)
    to_market boolean not null,
    amount bigint not null check (amount > 0 and amount <= 1000000000),
    note text not null default '' check (length(note) <= 200),
    -- awaiting (a QR shown) → paid | cancelled
    state text not null check (state in ('awaiting', 'paid', 'cancelled')),
    -- what transfers carrying its code brought into the marketplace's account
    received bigint not null default 0 check (received >= 0),
    -- the phone's clock when the sale was made (offline sales arrive later)
    sold_at timestamptz not null,
    -- its day in Vietnam, for the numbers
    day date not null,
    -- a sale made offline whose goods were gone from the stock by the time it arrived
    stock_short boolean not null default false,
    created_at timestamptz not null default now(),
    paid_at timestamptz,
    cancelled_at timestamptz,
    check ((state = 'paid') = (paid_at is not null)),
    check ((state = 'cancelled') = (cancelled_at is not null)),
    check (method = 'vietqr' or not to_market)
);
create index till_sale_event_idx on till_sale (event_id, producer_id, sold_at desc);
create index till_sale_province_day_idx on till_sale (province_code, day);

create table till_sale_line (
    sale_id bigint not null references till_sale,
    product_id bigint not null references product,
    name text not null,
    unit text not null,
    sector text not null,
    unit_price bigint not null check (unit_price > 0),
    quantity integer not null check (quantity > 0 and quantity <= 1000),
    line_total bigint not null check (line_total = unit_price * quantity),
    primary key (sale_id, product_id)
);

-- Every transfer that carried a sale's code, whatever became of it: the stallholder sees late
-- and wrong amounts against the sale, with who sent them.
create table till_transfer (
    payment_event_id bigint primary key references payment_event,
    sale_id bigint not null references till_sale,
    amount bigint not null check (amount > 0),
    -- paid: it completed the sale; short: not enough yet; over: more than owed; late: the sale
    -- was already paid in cash or cancelled
    outcome text not null check (outcome in ('paid', 'short', 'over', 'late')),
    sender text,
    at timestamptz not null default now()
);
create index till_transfer_sale_idx on till_transfer (sale_id);

-- Paid till sales per province, day, channel and way of paying, kept in the transaction that
-- pays them, so the dashboard reads a handful of rows for any period.
create table till_stats_day (
    province_code smallint not null,
    day date not null,
    channel text not null check (channel in ('fair', 'sales_point')),
    cash boolean not null,
    sales bigint not null default 0,
    value bigint not null default 0,
    primary key (province_code, day, channel, cash)
);

alter table journal_entry drop constraint journal_entry_event_check;
alter table journal_entry add constraint journal_entry_event_check check (event in ('payment',
    'cash_collected', 'release', 'reversal', 'refund', 'payout_sent', 'payout_paid', 'payout_failed',
    'payout_returned', 'adjustment', 'cod_remitted', 'till_transfer', 'till_sale'));
