-- What each producer is owed, kept as lines are posted, so that a payout run, a money page and
-- the province overview read one row per producer instead of summing its whole history.
--
-- Posting appends a delta row (one per statement and producer) and never updates a shared row:
-- a shopper's payment touching several producers takes no lock another payment waits on, and
-- two transactions cannot deadlock on balances. The release job folds the deltas into
-- `producer_balance` every few minutes; a reader adds the few deltas not folded yet.
-- Amounts are what the producer is owed (credits read as positive).
create table producer_balance (
    producer_id bigint primary key references producer,
    held bigint not null default 0,
    payable bigint not null default 0
);
create table producer_balance_delta (
    delta_id bigint generated always as identity primary key,
    producer_id bigint not null references producer,
    held bigint not null,
    payable bigint not null
);
create index producer_balance_delta_producer_idx on producer_balance_delta (producer_id);

create function producer_balance_note() returns trigger language plpgsql as $$
begin
    insert into producer_balance_delta (producer_id, held, payable)
    select producer_id,
           coalesce(-sum(amount) filter (where account = 'held'), 0),
           coalesce(-sum(amount) filter (where account = 'payable'), 0)
    from new_lines where producer_id is not null
    group by producer_id;
    return null;
end
$$;
create trigger journal_line_producer_balance after insert on journal_line
    referencing new table as new_lines for each statement execute function producer_balance_note();

-- The history so far. Creating the trigger above locks out inserts until this migration commits,
-- so every line is counted once: here, or by the trigger.
insert into producer_balance (producer_id, held, payable)
select producer_id,
       coalesce(-sum(amount) filter (where account = 'held'), 0),
       coalesce(-sum(amount) filter (where account = 'payable'), 0)
from journal_line where producer_id is not null
group by producer_id;

-- The dashboards' daily rollup takes its row locks in one order, so two release jobs posting for
-- the same days cannot deadlock.
create or replace function ledger_day_fold() returns trigger language plpgsql as $$
begin
    insert into ledger_day (day, province_code, account, amount)
    select (e.at at time zone 'Asia/Ho_Chi_Minh')::date, coalesce(e.province_code, 0), l.account, sum(l.amount)
    from new_lines l join journal_entry e using (entry_id)
    where l.account in ('commission', 'vat_withheld', 'pit_withheld')
    group by 1, 2, 3
    order by 1, 2, 3
    on conflict (day, province_code, account) do update set amount = ledger_day.amount + excluded.amount;
    return null;
end
$$;
