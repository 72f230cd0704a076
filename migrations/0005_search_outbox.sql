-- Changes that the search engine must learn about, written in the same transaction as the change
-- itself, so none is ever lost; a worker sends them and marks them done once the engine has
-- applied them.
create table search_outbox (
    outbox_id bigint generated always as identity primary key,
    product_id bigint not null,
    created_at timestamptz not null default now(),
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    done_at timestamptz,
    last_error text
);
create index search_outbox_pending_idx on search_outbox (next_attempt_at, outbox_id) where done_at is null;

create or replace function enqueue_search_change() returns trigger language plpgsql as $$
begin
    if tg_table_name = 'producer' then
        insert into search_outbox (product_id) select product_id from product where producer_id = new.producer_id;
    elsif tg_op = 'DELETE' then
        insert into search_outbox (product_id) values (old.product_id);
    else
        insert into search_outbox (product_id) values (new.product_id);
    end if;
    perform pg_notify('search_outbox', '');
    return null;
end
$$;
create trigger product_search_outbox after insert or update or delete on product
    for each row execute function enqueue_search_change();
create trigger certificate_search_outbox after insert or update or delete on certificate
    for each row execute function enqueue_search_change();
create trigger producer_search_outbox after update of name, status, commune_code, province_code, producer_type on producer
    for each row execute function enqueue_search_change();

-- Jobs that must run once a day however many instances run them.
create table job_run (
    job text not null,
    day date not null,
    ran_at timestamptz not null default now(),
    primary key (job, day)
);
