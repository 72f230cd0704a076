-- Promotions: vouchers (a code the shopper types) and automatic ones, each with the funder who
-- bears the discount in the ledger: the marketplace, a province's programme or a producer.

create table promotion (
    promotion_id bigint generated always as identity primary key,
    -- a voucher's code, upper case; none for an automatic promotion
    code text unique check (code ~ '^[A-Z0-9]{4,20}$'),
    name text not null check (length(btrim(name)) between 3 and 120),
    kind text not null check (kind in ('percent', 'amount')),
    -- a whole percentage (1..100) or an amount in đồng
    value bigint not null check (value > 0 and (kind <> 'percent' or value <= 100)),
    -- a percentage's ceiling in đồng
    max_discount bigint check (max_discount > 0),
    -- the eligible goods must come to at least this much
    min_order bigint not null default 0 check (min_order >= 0),
    starts_at timestamptz not null,
    ends_at timestamptz check (ends_at > starts_at),
    total_limit integer check (total_limit > 0),
    per_customer_limit integer check (per_customer_limit > 0),
    -- counted against total_limit when taken (an expired order whose money came late may
    -- bring one back above it: that order was placed within the limit)
    used integer not null default 0 check (used >= 0),
    -- what it applies to: every filter given must match a line (none: the whole marketplace)
    scope_province smallint references province,
    scope_sector text,
    scope_producer bigint references producer,
    scope_products bigint[] not null default '{}',
    -- combines with other stackable promotions; one that does not stands alone
    stackable boolean not null default false,
    funder text not null check (funder in ('marketplace', 'province', 'producer')),
    funder_province smallint references province,
    funder_producer bigint references producer,
    active boolean not null default true,
    created_by bigint not null references app_user,
    created_at timestamptz not null default now(),
    -- a producer funds only its own goods; a province only goods from the province
    check ((funder = 'producer') = (funder_producer is not null)),
    check (funder <> 'producer' or scope_producer = funder_producer),
    check ((funder = 'province') = (funder_province is not null)),
    check (funder <> 'province' or scope_province = funder_province)
);
create index promotion_funder_producer_idx on promotion (funder_producer) where funder_producer is not null;
create index promotion_automatic_idx on promotion (starts_at) where code is null and active;

-- One use of a promotion by an order group, counted against the limits. The customer is the
-- account when signed in, else the phone the order goes to.
create table promotion_use (
    promotion_id bigint not null references promotion,
    order_group_id bigint not null references order_group,
    customer text not null,
    amount bigint not null check (amount > 0),
    at timestamptz not null default now(),
    primary key (promotion_id, order_group_id)
);
create index promotion_use_customer_idx on promotion_use (promotion_id, customer);

-- What each line was discounted, by which promotion and so by which funder.
create table order_line_discount (
    order_id bigint not null,
    product_id bigint not null,
    promotion_id bigint not null references promotion,
    funder text not null check (funder in ('marketplace', 'province', 'producer')),
    amount bigint not null check (amount > 0),
    primary key (order_id, product_id, promotion_id),
    foreign key (order_id, product_id) references order_line
);

alter table order_line add column discount bigint not null default 0
    check (discount >= 0 and discount <= line_total);
alter table shop_order add column discount_total bigint not null default 0
    check (discount_total >= 0 and discount_total <= goods_total);
alter table order_group add column discount_total bigint not null default 0 check (discount_total >= 0);
-- what the shopper pays: goods and shipping, less the discounts
alter table order_group drop constraint order_group_check;
alter table order_group add constraint order_group_grand_total_check
    check (grand_total = goods_total + shipping_total - discount_total and grand_total >= 0);

-- The ledger: what the marketplace and the provinces' programmes spend on promotions.
alter table journal_line drop constraint journal_line_account_check;
alter table journal_line add constraint journal_line_account_check check (account in (
    'clearing_bank', 'clearing_vnpay', 'clearing_momo', 'clearing_stripe', 'cash_collected',
    'held', 'payable', 'commission', 'vat_withheld', 'pit_withheld', 'provider_fees',
    'refunds_owed', 'payouts_in_flight', 'adjustments', 'carrier_cod', 'carriers_payable',
    'promotions_marketplace', 'promotions_province'));
alter table journal_line drop constraint journal_line_component_check;
alter table journal_line add constraint journal_line_component_check check (component in ('payment',
    'fee', 'goods', 'shipping', 'commission', 'vat', 'pit', 'cash', 'refund', 'payout', 'adjustment',
    'discount'));
