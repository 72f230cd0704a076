-- Postgres full-text search: diacritic-insensitive, weighted, with a vocabulary for typo tolerance.
create extension if not exists fuzzystrmatch;

-- unaccent() depends on the search path, so it is only STABLE; pinning the dictionary makes the
-- folding immutable, which generated columns and indexes require.
create or replace function fold(input text) returns text
language sql immutable parallel safe strict
as $$ select lower(public.unaccent('public.unaccent'::regdictionary, input)) $$;

create or replace function sector_label(sector text) returns text
language sql immutable parallel safe strict
as $$ select case sector
    when 'food' then 'Thực phẩm'
    when 'beverage' then 'Đồ uống'
    when 'herbal' then 'Thảo dược'
    when 'textile' then 'Vải và may mặc'
    when 'souvenir' then 'Lưu niệm nội thất trang trí'
    when 'tourism' then 'Dịch vụ du lịch cộng đồng'
    else '' end $$;

-- the product's own name weighs most; its producer, commune, province and sector less; its story least
alter table product add column search_name text not null default '';
alter table product add column search_extra text not null default '';
alter table product add column search_tsv tsvector generated always as (
    setweight(to_tsvector('simple', search_name), 'A')
    || setweight(to_tsvector('simple', search_extra), 'B')
    -- stories are long: their words count, their positions are not worth the space
    || setweight(strip(to_tsvector('simple', fold(story))), 'D')
) stored;
create index product_search_idx on product using gin (search_tsv);

-- every folded word that appears in a searchable text: typo tolerance looks here for the words
-- one edit away from what a shopper typed
create table search_word (word text primary key);
create index search_word_trgm_idx on search_word using gin (word gin_trgm_ops);

create or replace function product_search_fields() returns trigger language plpgsql as $$
begin
    new.search_name := fold(new.name);
    select fold(concat_ws(' ', pr.name, c.name, pv.name, sector_label(new.sector)))
      into new.search_extra
      from producer pr
      join commune c on c.commune_code = pr.commune_code
      join province pv on pv.province_code = pr.province_code
     where pr.producer_id = new.producer_id;
    insert into search_word (word)
    select distinct w from regexp_split_to_table(concat_ws(' ', new.search_name, new.search_extra, fold(new.story)), '[^a-z0-9]+') w
     where length(w) > 0
    on conflict do nothing;
    return new;
end
$$;
create trigger product_search_fields before insert or update of name, sector, producer_id, story on product
    for each row execute function product_search_fields();

-- a renamed or moved producer changes the text of all its products
create or replace function producer_search_fields() returns trigger language plpgsql as $$
begin
    update product set name = name where producer_id = new.producer_id;
    return null;
end
$$;
create trigger producer_search_fields after update of name, commune_code, province_code on producer
    for each row execute function producer_search_fields();

update product set name = name;
