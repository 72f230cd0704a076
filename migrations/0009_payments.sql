-- Payments: one row per attempt to pay an order group, and every callback a provider sends, kept
-- raw before it is acted on. No payment is lost (the raw event is committed first) or counted
-- twice (a provider's transaction id is claimed once).

create table payment (
    payment_id bigint generated always as identity primary key,
    order_group_id bigint not null references order_group,
    method text not null check (method in ('cod', 'vietqr', 'vnpay', 'momo', 'card')),
    -- what the provincial dashboards count
    non_cash boolean generated always as (method <> 'cod') stored,
    amount bigint not null check (amount > 0),
    -- what we send the provider for this attempt (vnp_TxnRef, MoMo orderId, Stripe
    -- client_reference_id); the order code itself for bank transfers
    reference text not null unique check (reference ~ '^[A-Z0-9]{8,40}$'),
    -- the provider's id for the attempt or the money (Stripe session, MoMo transId, bank tx)
    provider_ref text,
    status text not null default 'pending'
        check (status in ('pending', 'paid', 'failed', 'expired', 'cancelled', 'refunded')),
    paid_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index payment_group_idx on payment (order_group_id);
create trigger payment_updated_at before update on payment for each row execute function set_updated_at();

create table payment_event (
    payment_event_id bigint generated always as identity primary key,
    provider text not null check (provider in ('sepay', 'casso', 'vnpay', 'momo', 'stripe', 'cod', 'staff')),
    received_at timestamptz not null default now(),
    -- exactly what arrived (secrets are not in callbacks; signature headers are kept as evidence)
    headers jsonb not null,
    body text not null,
    verified boolean not null default false,
    verification_error text,
    provider_tx_id text,
    order_group_id bigint references order_group,
    payment_id bigint references payment,
    amount bigint,
    outcome text check (outcome in ('applied', 'duplicate', 'ignored', 'failed_payment', 'review', 'rejected')),
    review_reason text,
    resolved_at timestamptz,
    resolved_by bigint references app_user,
    resolution text check (resolution in ('applied', 'refunded', 'dismissed')),
    resolution_note text
);
create index payment_event_review_idx on payment_event (received_at) where outcome = 'review' and resolved_at is null;
create index payment_event_group_idx on payment_event (order_group_id);

-- A provider's transaction is acted on once, however often it is delivered.
create table payment_tx_claim (
    provider text not null,
    provider_tx_id text not null,
    payment_event_id bigint not null references payment_event,
    primary key (provider, provider_tx_id)
);
