-- Sales rollups for the provincial dashboards, exact and fast at national scale. Every change of an
-- order's state appends what it changes to a delta table (insert-only, so checkouts never queue on
-- a shared counter row); a job folds the deltas into the daily rollups. Readers add the rollup and
-- the deltas not yet folded, so the numbers are always exact.
--
-- Definitions (shown on the dashboard): an order is a producer's order, dated by the Vietnamese day
-- it was placed; it is *paid* once its money is in (an online payment received, or cash collected
-- at delivery) and not refunded; GMV is the goods value of paid orders (shipping excluded).

create table stats_order_day (
    day date not null,
    province_code smallint not null,
    commune_code integer not null,
    producer_id bigint not null,
    producer_type text not null,
    method text not null,
    orders bigint not null default 0,
    paid_orders bigint not null default 0,
    cancelled_orders bigint not null default 0,
    gmv bigint not null default 0,
    primary key (day, province_code, commune_code, producer_id, producer_type, method)
);
create index stats_order_day_province_idx on stats_order_day (province_code, day);

create table stats_order_delta (like stats_order_day);
alter table stats_order_delta add column delta_id bigint generated always as identity primary key;

create table stats_line_day (
    day date not null,
    province_code smallint not null,
    product_id bigint not null,
    sector text not null,
    stars smallint not null,
    paid_quantity bigint not null default 0,
    paid_value bigint not null default 0,
    primary key (day, province_code, product_id, sector, stars)
);
create index stats_line_day_province_idx on stats_line_day (province_code, day);

create table stats_line_delta (like stats_line_day);
alter table stats_line_delta add column delta_id bigint generated always as identity primary key;

-- Whether an order in this state, paid this way, counts as paid.
create or replace function order_is_paid(status text, method text) returns boolean
language sql immutable as $$
    select status in ('paid', 'confirmed', 'shipped', 'delivered') and (method <> 'cod' or status = 'delivered')
$$;

create or replace function record_order_stats() returns trigger language plpgsql as $$
declare
    g record;
    pr record;
    was_paid boolean := false;
    now_paid boolean;
    sign int;
begin
    select og.payment_method, (og.created_at at time zone 'Asia/Ho_Chi_Minh')::date as day
      into g from order_group og where og.order_group_id = new.order_group_id;
    select p.province_code, p.commune_code, p.producer_type into pr from producer p where p.producer_id = new.producer_id;
    now_paid := order_is_paid(new.status, g.payment_method);
    if tg_op = 'UPDATE' then
        if old.status = new.status then
            return null;
        end if;
        was_paid := order_is_paid(old.status, g.payment_method);
    end if;
    insert into stats_order_delta (day, province_code, commune_code, producer_id, producer_type, method,
                                   orders, paid_orders, cancelled_orders, gmv)
    values (g.day, pr.province_code, pr.commune_code, new.producer_id, pr.producer_type, g.payment_method,
            case when tg_op = 'INSERT' then 1 else 0 end,
            now_paid::int - was_paid::int,
            -- a cancelled order stays cancelled when its refund is recorded
            (new.status in ('cancelled', 'refunded') and new.cancelled_by is not null)::int
              - (tg_op = 'UPDATE' and old.status in ('cancelled', 'refunded') and old.cancelled_by is not null)::int,
            (now_paid::int - was_paid::int) * new.goods_total);
    if now_paid <> was_paid then
        sign := case when now_paid then 1 else -1 end;
        insert into stats_line_delta (day, province_code, product_id, sector, stars, paid_quantity, paid_value)
        select g.day, pr.province_code, l.product_id, coalesce(l.sector, 'food'), coalesce(l.stars, 3),
               sign * l.quantity, sign * l.line_total
        from order_line l where l.order_id = new.order_id;
    end if;
    return null;
end
$$;

-- After insert the lines do not exist yet (a new order is never paid); updates see them.
create trigger shop_order_stats after insert or update of status on shop_order
    for each row execute function record_order_stats();

-- Folds the deltas into the rollups; each delta is moved once however many instances run it.
create or replace function fold_stats() returns bigint language plpgsql as $$
declare
    moved bigint;
    moved_lines bigint;
begin
    with d as (delete from stats_order_delta returning *),
    agg as (
        select day, province_code, commune_code, producer_id, producer_type, method,
               sum(orders) o, sum(paid_orders) p, sum(cancelled_orders) c, sum(gmv) v, count(*) n
        from d group by 1, 2, 3, 4, 5, 6
    ),
    ins as (
        insert into stats_order_day (day, province_code, commune_code, producer_id, producer_type, method,
                                     orders, paid_orders, cancelled_orders, gmv)
        select day, province_code, commune_code, producer_id, producer_type, method, o, p, c, v from agg
        on conflict (day, province_code, commune_code, producer_id, producer_type, method) do update
        set orders = stats_order_day.orders + excluded.orders,
            paid_orders = stats_order_day.paid_orders + excluded.paid_orders,
            cancelled_orders = stats_order_day.cancelled_orders + excluded.cancelled_orders,
            gmv = stats_order_day.gmv + excluded.gmv
        returning 1
    )
    select coalesce(sum(n), 0) into moved from agg;
    with d as (delete from stats_line_delta returning *),
    agg as (
        select day, province_code, product_id, sector, stars, sum(paid_quantity) q, sum(paid_value) v, count(*) n
        from d group by 1, 2, 3, 4, 5
    ),
    ins as (
        insert into stats_line_day (day, province_code, product_id, sector, stars, paid_quantity, paid_value)
        select day, province_code, product_id, sector, stars, q, v from agg
        on conflict (day, province_code, product_id, sector, stars) do update
        set paid_quantity = stats_line_day.paid_quantity + excluded.paid_quantity,
            paid_value = stats_line_day.paid_value + excluded.paid_value
        returning 1
    )
    select coalesce(sum(n), 0) into moved_lines from agg;
    return moved + moved_lines;
end
$$;
