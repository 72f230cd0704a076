-- Invoices and receipts. A business buyer's invoice request travels with the order group; a
-- producer's own e-invoice account (credentials sealed with INVOICE_KEY) issues an invoice for its
-- part of an order once delivered; a cancelled or refunded part after that gets an adjusting
-- invoice, never a deletion. Monthly, the marketplace invoices each producer for the commission
-- and fees the ledger recorded. Each invoice carries the provider's retry key (VNPT Fkey, Viettel
-- transactionUuid, MISA RefID), derived from our ids, so a retry after a timeout finds the first.

alter table order_group
    add column buyer_company text check (length(btrim(buyer_company)) between 2 and 200),
    add column buyer_tax_code text check (buyer_tax_code ~ '^[0-9]{10}(-[0-9]{3})?$'),
    add column buyer_company_address text check (length(btrim(buyer_company_address)) between 5 and 300),
    add column invoice_email text,
    add constraint order_group_company_check check (
        (buyer_company is null) = (buyer_tax_code is null)
        and (buyer_company is null) = (buyer_company_address is null));

-- households farming, raising or fishing and selling their own unprocessed produce: exempt
alter table producer add column farming_exempt boolean not null default false;

create table einvoice_account (
    producer_id bigint primary key references producer,
    provider text not null check (provider in ('vnpt', 'viettel', 'misa', 'sandbox')),
    -- the provider's address for this account (VNPT gives each seller its own)
    url text not null default '',
    -- template / pattern (mẫu số) and series (ký hiệu), as registered with the tax office
    pattern text not null check (length(btrim(pattern)) between 1 and 20),
    series text not null check (length(btrim(series)) between 1 and 20),
    seller_tax_code text not null check (seller_tax_code ~ '^[0-9]{10}(-[0-9]{3})?$'),
    -- the VAT rate on the producer's goods; null: a sales invoice (hoá đơn bán hàng), no VAT
    vat_rate smallint check (vat_rate in (0, 5, 8, 10)),
    -- invoices generated from a cash register (máy tính tiền), as households above the revenue
    -- threshold must issue since 2026; their series carries an M (C26MAA)
    cash_register boolean not null default false,
    -- the credentials, sealed (XChaCha20 + HMAC-SHA256 with a key from the environment)
    sealed bytea not null,
    -- the provider refused the credentials: reported once, nothing retried until they change
    refused_at timestamptz,
    refused_reason text,
    updated_at timestamptz not null default now()
);

create table invoice (
    invoice_id bigint generated always as identity primary key,
    -- sale: the producer's invoice for its part of an order; adjustment: one that reduces it;
    -- commission: the marketplace's monthly invoice to the producer for commission and fees
    kind text not null check (kind in ('sale', 'adjustment', 'commission')),
    order_id bigint references shop_order,
    producer_id bigint not null references producer,
    -- the month a commission invoice covers (its first day)
    month date,
    -- an adjustment's original
    adjusts bigint references invoice,
    provider text not null,
    provider_key text not null unique,
    -- pending → issued; void: cancelled before the provider ever had it; stuck: waits for the
    -- producer (credentials refused)
    state text not null default 'pending' check (state in ('pending', 'issued', 'void', 'stuck')),
    -- the order was cancelled or refunded while this was on its way: settle it, then adjust
    cancel_requested boolean not null default false,
    attempts integer not null default 0,
    next_try_at timestamptz not null default now(),
    last_error text,
    amount bigint not null check (amount >= 0),
    number text,
    pattern text,
    series text,
    lookup_code text,
    pdf_url text,
    issued_at timestamptz,
    created_at timestamptz not null default now(),
    check ((kind = 'adjustment') = (adjusts is not null)),
    check ((kind = 'commission') = (order_id is null) and (kind = 'commission') = (month is not null)),
    check (state <> 'issued' or number is not null)
);
create unique index invoice_sale_once on invoice (order_id) where kind = 'sale';
create unique index invoice_adjustment_once on invoice (adjusts) where kind = 'adjustment';
create unique index invoice_commission_once on invoice (producer_id, month) where kind = 'commission';
create index invoice_due_idx on invoice (next_try_at) where state = 'pending';
create index invoice_producer_idx on invoice (producer_id, created_at desc);

-- The sandbox provider's own books: what it has issued, by the caller's key, like a real one.
create table sandbox_invoice (
    provider_key text primary key,
    seller_tax_code text not null,
    number text not null,
    lookup_code text not null,
    body jsonb not null,
    created_at timestamptz not null default now()
);
create sequence sandbox_invoice_no;
