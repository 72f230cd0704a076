-- Orders. What a shopper pays is an order group (one code, one payment); what each producer
-- fulfils is an order of that group. Lines copy name, unit and price at the moment of ordering.

create table order_group (
    order_group_id bigint generated always as identity primary key,
    -- goes into bank-transfer memos: OCOP + 8 of A–Z0–9
    code text not null unique check (code ~ '^OCOP[A-Z0-9]{8}$'),
    -- the idempotency key of the checkout form: a retried POST finds the order it made
    checkout_token text not null unique check (length(checkout_token) between 16 and 128),
    user_id bigint references app_user on delete set null,
    buyer_name text not null check (length(btrim(buyer_name)) between 2 and 120),
    phone text not null check (phone ~ '^0[35789][0-9]{8}$'),
    email text,
    province_code smallint not null,
    commune_code integer not null,
    street text not null check (length(btrim(street)) between 3 and 300),
    note text not null default '' check (length(note) <= 1000),
    payment_method text not null check (payment_method in ('cod', 'vietqr', 'vnpay', 'momo', 'card')),
    goods_total bigint not null check (goods_total > 0),
    shipping_total bigint not null check (shipping_total >= 0),
    grand_total bigint not null check (grand_total = goods_total + shipping_total),
    -- online payments must arrive before this moment; cash on delivery has none
    pay_before timestamptz,
    created_at timestamptz not null default now(),
    foreign key (province_code, commune_code) references commune (province_code, commune_code)
);
create index order_group_user_idx on order_group (user_id, created_at desc);

create table shop_order (
    order_id bigint generated always as identity primary key,
    order_group_id bigint not null references order_group,
    producer_id bigint not null references producer,
    -- pending_payment (online) or placed (cash on delivery) → paid → confirmed → shipped → delivered;
    -- cancelled and refunded end it
    status text not null check (status in
        ('pending_payment', 'placed', 'paid', 'confirmed', 'shipped', 'delivered', 'cancelled', 'refunded')),
    goods_total bigint not null check (goods_total > 0),
    shipping_fee bigint not null check (shipping_fee >= 0),
    carrier text,
    tracking_number text,
    cancel_reason text,
    cancelled_by text check (cancelled_by in ('shopper', 'producer', 'expiry', 'staff')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (order_group_id, producer_id),
    check (status <> 'shipped' or (carrier is not null and tracking_number is not null)),
    check (status <> 'cancelled' or cancelled_by is not null)
);
create index shop_order_producer_idx on shop_order (producer_id, status, created_at desc);
create index shop_order_pending_idx on shop_order (order_group_id) where status = 'pending_payment';
create trigger shop_order_updated_at before update on shop_order for each row execute function set_updated_at();

create table order_line (
    order_id bigint not null references shop_order,
    product_id bigint not null references product,
    name text not null,
    unit text not null,
    unit_price bigint not null check (unit_price > 0),
    quantity integer not null check (quantity > 0),
    line_total bigint not null check (line_total = unit_price * quantity),
    primary key (order_id, product_id)
);

-- The timeline a shopper and a producer see, one row per change of state.
create table order_event (
    order_event_id bigint generated always as identity primary key,
    order_id bigint not null references shop_order,
    at timestamptz not null default now(),
    from_status text,
    to_status text not null,
    actor text not null,
    note text
);
create index order_event_order_idx on order_event (order_id, order_event_id);

-- Addresses a signed-in shopper can reuse.
create table saved_address (
    saved_address_id bigint generated always as identity primary key,
    user_id bigint not null references app_user on delete cascade,
    buyer_name text not null,
    phone text not null,
    province_code smallint not null,
    commune_code integer not null,
    street text not null,
    created_at timestamptz not null default now(),
    unique (user_id, phone, commune_code, street),
    foreign key (province_code, commune_code) references commune (province_code, commune_code)
);
