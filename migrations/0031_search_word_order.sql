-- The search vocabulary only grows: numbering its words in the order they arrive lets every
-- instance keep it in memory and fetch just the words added since it last looked.
alter table search_word add column added bigint generated always as identity;
create index search_word_added_idx on search_word (added);

-- The vocabulary holds every lexeme of the products' search vectors too (the tsvector parser
-- splits some text differently from the word split above), so that a word missing from it is
-- missing from every product: such a query is answered without asking Postgres.
create or replace function product_search_fields() returns trigger language plpgsql as $$
begin
    new.search_name := fold(concat_ws(' ', new.name, new.name_en));
    select fold(concat_ws(' ', pr.name, c.name, pv.name, sector_label(new.sector)))
      into new.search_extra
      from producer pr
      join commune c on c.commune_code = pr.commune_code
      join province pv on pv.province_code = pr.province_code
     where pr.producer_id = new.producer_id;
    insert into search_word (word)
    select w from regexp_split_to_table(concat_ws(' ', new.search_name, new.search_extra, fold(new.story)), '[^a-z0-9]+') w
     where length(w) > 0
    union
    select lexeme from unnest(to_tsvector('simple', new.search_name)
                              || to_tsvector('simple', new.search_extra)
                              || to_tsvector('simple', fold(new.story)))
    on conflict do nothing;
    return new;
end
$$;

insert into search_word (word)
select distinct lexeme from product, unnest(search_tsv)
on conflict do nothing;
