-- Visits per Vietnamese day, for the provincial dashboards: page views, product page views and
-- unique visitors (a daily count of salted hashes; nothing that identifies a person is stored).
-- `province_code` null is the whole marketplace. Copied from Redis once a day is finished.
create table visit_daily (
    day date not null,
    province_code smallint references province,
    page_views bigint not null check (page_views >= 0),
    product_views bigint not null check (product_views >= 0),
    unique_visitors bigint not null check (unique_visitors >= 0)
);
create unique index visit_daily_key on visit_daily (day, (coalesce(province_code, 0)));
