-- "Báo khi có hàng": a shopper leaves an address on a sold-out product's page and gets one
-- mail when it is back in stock.
create table stock_alert (
    stock_alert_id bigint generated always as identity primary key,
    product_id bigint not null references product on delete cascade,
    email text not null check (length(email) between 3 and 254 and email like '%_@_%'),
    created_at timestamptz not null default now(),
    sent_at timestamptz,
    unique (product_id, email)
);
create index stock_alert_waiting_idx on stock_alert (product_id) where sent_at is null;
