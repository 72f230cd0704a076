-- Reconciliation: online attempts still pending a few minutes after they started are asked about
-- at their provider, in case the callback was lost. `checked_at` and `checks` space the questions
-- out (and keep two instances from asking about one attempt at once); the partial index keeps the
-- search for them cheap however many settled attempts there are.
alter table payment
    add column checked_at timestamptz,
    add column checks integer not null default 0;
create index payment_unsettled_idx on payment (created_at)
    where status = 'pending' and method in ('vnpay', 'momo', 'card');
