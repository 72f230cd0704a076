-- Extensions and helpers every later migration may use.
create extension if not exists unaccent;
create extension if not exists pg_trgm;

-- Keeps updated_at honest without every query remembering to set it.
create or replace function set_updated_at() returns trigger language plpgsql as $$
begin
    new.updated_at := now();
    return new;
end
$$;
