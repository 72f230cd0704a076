-- Rollups that stay small at national scale (10 million orders): one row per order and day is no
-- rollup at all once every producer sells daily. Each rollup now keeps only the dimensions its
-- readers group by, at three tiers — day, month and year (`start` is the first day) — so a period
-- is read as a handful of pieces (the whole years, the whole months, the days left at the edges).
-- The small cubes also keep pre-added totals (province_code 0: the whole country; commune_code 0:
-- the whole province), so the national headline reads a few dozen rows whatever the period.
--
-- The delta tables and the trigger that fills them are unchanged (they stay at full detail);
-- the fold job spreads each delta over every table, tier and level in one statement.

drop table stats_order_day, stats_line_day;

-- orders, paid orders, cancellations and GMV by place, producer type and payment method
create table stats_sales (
    tier "char" not null check (tier in ('d', 'm', 'y')),
    start date not null,
    province_code smallint not null,
    commune_code integer not null,
    producer_type text not null,
    method text not null,
    orders bigint not null,
    paid_orders bigint not null,
    cancelled_orders bigint not null,
    gmv bigint not null,
    primary key (tier, start, province_code, commune_code, producer_type, method)
);

-- per producer: who is active, who sells most
create table stats_producer (
    tier "char" not null check (tier in ('d', 'm', 'y')),
    start date not null,
    province_code smallint not null,
    producer_id bigint not null,
    orders bigint not null,
    paid_orders bigint not null,
    gmv bigint not null,
    primary key (tier, start, province_code, producer_id)
);

-- per product: which products sold, which sell most (paid units and value)
create table stats_product (
    tier "char" not null check (tier in ('d', 'm', 'y')),
    start date not null,
    province_code smallint not null,
    product_id bigint not null,
    paid_quantity bigint not null,
    paid_value bigint not null,
    primary key (tier, start, province_code, product_id)
);

-- paid goods by sector and star rating (province_code 0: the whole country)
create table stats_goods (
    tier "char" not null check (tier in ('d', 'm', 'y')),
    start date not null,
    province_code smallint not null,
    sector text not null,
    stars smallint not null,
    paid_quantity bigint not null,
    paid_value bigint not null,
    primary key (tier, start, province_code, sector, stars)
);

-- Folds the pending deltas into every rollup. One instance folds at a time (the others skip the
-- round: the next tick folds what they would have), so two folds never wait on each other's rows.
create or replace function fold_stats() returns bigint language plpgsql as $$
declare
    moved bigint;
    moved_lines bigint;
begin
    if not pg_try_advisory_xact_lock(hashtext('ocop.fold_stats')) then
        return 0;
    end if;
    with d as (delete from stats_order_delta returning *),
    t as (
        select d.*, x.tier, x.start
        from d cross join lateral (values ('d'::"char", d.day),
                                          ('m'::"char", date_trunc('month', d.day)::date),
                                          ('y'::"char", date_trunc('year', d.day)::date)) x(tier, start)
    ),
    sales as (
        insert into stats_sales as s (tier, start, province_code, commune_code, producer_type, method,
                                      orders, paid_orders, cancelled_orders, gmv)
        select tier, start, coalesce(province_code, 0), coalesce(commune_code, 0), producer_type, method,
               sum(orders), sum(paid_orders), sum(cancelled_orders), sum(gmv)
        from t
        group by grouping sets ((tier, start, province_code, commune_code, producer_type, method),
                                (tier, start, province_code, producer_type, method),
                                (tier, start, producer_type, method))
        on conflict (tier, start, province_code, commune_code, producer_type, method) do update
        set orders = s.orders + excluded.orders, paid_orders = s.paid_orders + excluded.paid_orders,
            cancelled_orders = s.cancelled_orders + excluded.cancelled_orders, gmv = s.gmv + excluded.gmv
        returning 1
    ),
    producers as (
        insert into stats_producer as s (tier, start, province_code, producer_id, orders, paid_orders, gmv)
        select tier, start, province_code, producer_id, sum(orders), sum(paid_orders), sum(gmv)
        from t group by tier, start, province_code, producer_id
        on conflict (tier, start, province_code, producer_id) do update
        set orders = s.orders + excluded.orders, paid_orders = s.paid_orders + excluded.paid_orders,
            gmv = s.gmv + excluded.gmv
        returning 1
    )
    -- (the inserts run to completion whether or not their output is read)
    select count(*) into moved from d;
    with d as (delete from stats_line_delta returning *),
    t as (
        select d.*, x.tier, x.start
        from d cross join lateral (values ('d'::"char", d.day),
                                          ('m'::"char", date_trunc('month', d.day)::date),
                                          ('y'::"char", date_trunc('year', d.day)::date)) x(tier, start)
    ),
    products as (
        insert into stats_product as s (tier, start, province_code, product_id, paid_quantity, paid_value)
        select tier, start, province_code, product_id, sum(paid_quantity), sum(paid_value)
        from t group by tier, start, province_code, product_id
        on conflict (tier, start, province_code, product_id) do update
        set paid_quantity = s.paid_quantity + excluded.paid_quantity, paid_value = s.paid_value + excluded.paid_value
        returning 1
    ),
    goods as (
        insert into stats_goods as s (tier, start, province_code, sector, stars, paid_quantity, paid_value)
        select tier, start, coalesce(province_code, 0), sector, stars, sum(paid_quantity), sum(paid_value)
        from t
        group by grouping sets ((tier, start, province_code, sector, stars), (tier, start, sector, stars))
        on conflict (tier, start, province_code, sector, stars) do update
        set paid_quantity = s.paid_quantity + excluded.paid_quantity, paid_value = s.paid_value + excluded.paid_value
        returning 1
    )
    select count(*) into moved_lines from d;
    return moved + moved_lines;
end
$$;

-- The facts the rollups add up, straight from the orders: one row per producer order (and per
-- paid line), in the shape the trigger writes its deltas. The dashboard reads these instead of
-- the rollups when asked to (the benchmark's "without rollups"), and the rebuild starts from them.
create view stats_order_facts as
select (g.created_at at time zone 'Asia/Ho_Chi_Minh')::date as day, p.province_code, p.commune_code,
       o.producer_id, p.producer_type, g.payment_method as method,
       1::bigint as orders,
       order_is_paid(o.status, g.payment_method)::int::bigint as paid_orders,
       (o.status in ('cancelled', 'refunded') and o.cancelled_by is not null)::int::bigint as cancelled_orders,
       case when order_is_paid(o.status, g.payment_method) then o.goods_total else 0 end as gmv
from shop_order o
join order_group g using (order_group_id)
join producer p on p.producer_id = o.producer_id;

create view stats_line_facts as
select (g.created_at at time zone 'Asia/Ho_Chi_Minh')::date as day, p.province_code, l.product_id,
       coalesce(l.sector, 'food') as sector, coalesce(l.stars, 3)::smallint as stars,
       l.quantity::bigint as paid_quantity, l.line_total as paid_value
from order_line l
join shop_order o using (order_id)
join order_group g using (order_group_id)
join producer p on p.producer_id = o.producer_id
where order_is_paid(o.status, g.payment_method);

-- Rebuilds every rollup from the orders (after a bulk load with the triggers off, or to check
-- them): the days straight from the orders, the months from the days, the years from the months,
-- each written in key order so that a period's rows sit together on disk (as the fold's do, day
-- after day).
-- Orders wait meanwhile: the deltas they would write are part of the rebuild.
create or replace function rebuild_stats() returns bigint language plpgsql as $$
declare
    n bigint;
begin
    lock table shop_order in share mode;
    perform pg_advisory_xact_lock(hashtext('ocop.fold_stats'));
    truncate stats_order_delta, stats_line_delta, stats_sales, stats_producer, stats_product, stats_goods;
    insert into stats_sales (tier, start, province_code, commune_code, producer_type, method,
                             orders, paid_orders, cancelled_orders, gmv)
    select 'd', day, coalesce(province_code, 0), coalesce(commune_code, 0), producer_type, method,
           sum(orders), sum(paid_orders), sum(cancelled_orders), sum(gmv)
    from stats_order_facts
    group by grouping sets ((day, province_code, commune_code, producer_type, method),
                            (day, province_code, producer_type, method),
                            (day, producer_type, method))
    order by 2, 3, 4, 5, 6;
    insert into stats_producer (tier, start, province_code, producer_id, orders, paid_orders, gmv)
    select 'd', day, province_code, producer_id, sum(orders), sum(paid_orders), sum(gmv)
    from stats_order_facts group by day, province_code, producer_id order by 2, 3, 4;
    insert into stats_product (tier, start, province_code, product_id, paid_quantity, paid_value)
    select 'd', day, province_code, product_id, sum(paid_quantity), sum(paid_value)
    from stats_line_facts group by day, province_code, product_id order by 2, 3, 4;
    insert into stats_goods (tier, start, province_code, sector, stars, paid_quantity, paid_value)
    select 'd', day, coalesce(province_code, 0), sector, stars, sum(paid_quantity), sum(paid_value)
    from stats_line_facts
    group by grouping sets ((day, province_code, sector, stars), (day, sector, stars))
    order by 2, 3, 4, 5;
    for i in 1..2 loop
        insert into stats_sales (tier, start, province_code, commune_code, producer_type, method,
                                 orders, paid_orders, cancelled_orders, gmv)
        select (array['m', 'y'])[i]::"char", date_trunc((array['month', 'year'])[i], start)::date, province_code,
               commune_code, producer_type, method, sum(orders), sum(paid_orders), sum(cancelled_orders), sum(gmv)
        from stats_sales where tier = (array['d', 'm'])[i]::"char" group by 1, 2, 3, 4, 5, 6 order by 2, 3, 4, 5, 6;
        insert into stats_producer (tier, start, province_code, producer_id, orders, paid_orders, gmv)
        select (array['m', 'y'])[i]::"char", date_trunc((array['month', 'year'])[i], start)::date, province_code,
               producer_id, sum(orders), sum(paid_orders), sum(gmv)
        from stats_producer where tier = (array['d', 'm'])[i]::"char" group by 1, 2, 3, 4 order by 2, 3, 4;
        insert into stats_product (tier, start, province_code, product_id, paid_quantity, paid_value)
        select (array['m', 'y'])[i]::"char", date_trunc((array['month', 'year'])[i], start)::date, province_code,
               product_id, sum(paid_quantity), sum(paid_value)
        from stats_product where tier = (array['d', 'm'])[i]::"char" group by 1, 2, 3, 4 order by 2, 3, 4;
        insert into stats_goods (tier, start, province_code, sector, stars, paid_quantity, paid_value)
        select (array['m', 'y'])[i]::"char", date_trunc((array['month', 'year'])[i], start)::date, province_code,
               sector, stars, sum(paid_quantity), sum(paid_value)
        from stats_goods where tier = (array['d', 'm'])[i]::"char" group by 1, 2, 3, 4, 5 order by 2, 3, 4, 5;
    end loop;
    select (select count(*) from stats_sales) + (select count(*) from stats_producer)
         + (select count(*) from stats_product) + (select count(*) from stats_goods) into n;
    return n;
end
$$;
