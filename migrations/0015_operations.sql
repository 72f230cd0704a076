-- /metrics reports the payment attempts of the last 24 hours by method and status; this keeps
-- that a short index range at any size.
create index payment_created_idx on payment (created_at);
