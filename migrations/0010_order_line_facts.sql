-- What the provincial dashboards break sales down by, as it was when the order was placed
-- (a product's sector or stars may change later; a sale stays where it was made).
alter table order_line
    add column sector text check (sector in ('food', 'beverage', 'herbal', 'textile', 'souvenir', 'tourism')),
    add column stars smallint check (stars between 3 and 5);
