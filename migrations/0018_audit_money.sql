-- The audit log also keeps money and order decisions: a staff member settling a payment from
-- the review queue or recording a refund, a producer confirming, shipping or cancelling an
-- order. Only changes made through a declared actor are logged (the system's own moves, such as
-- a payment landing or an order expiring, are on the order's timeline).

create or replace function write_audit_log() returns trigger language plpgsql as $$
declare
    actor bigint := nullif(current_setting('ocop.actor_id', true), '')::bigint;
    row_new jsonb;
    row_old jsonb;
    entity_key bigint;
    producer bigint;
    province smallint;
    who record;
begin
    if actor is null then
        return null;
    end if;
    -- callbacks' raw bodies and headers are evidence kept on the event itself, not log material
    if tg_op <> 'INSERT' then row_old := to_jsonb(old) - 'password_hash' - 'updated_at' - 'body' - 'headers'; end if;
    if tg_op <> 'DELETE' then row_new := to_jsonb(new) - 'password_hash' - 'updated_at' - 'body' - 'headers'; end if;
    if tg_op = 'UPDATE' and row_old = row_new then
        return null;
    end if;
    case tg_table_name
        when 'producer' then
            entity_key := coalesce(new.producer_id, old.producer_id);
            producer := entity_key;
        when 'product' then
            entity_key := coalesce(new.product_id, old.product_id);
            producer := coalesce(new.producer_id, old.producer_id);
        when 'certificate' then
            entity_key := coalesce(new.certificate_id, old.certificate_id);
            select p.producer_id into producer from product p
            where p.product_id = coalesce(new.product_id, old.product_id);
        when 'producer_member' then
            entity_key := coalesce(new.user_id, old.user_id);
            producer := coalesce(new.producer_id, old.producer_id);
        when 'app_user' then
            entity_key := coalesce(new.user_id, old.user_id);
            province := coalesce(new.province_code, old.province_code);
        when 'shop_order' then
            entity_key := coalesce(new.order_id, old.order_id);
            producer := coalesce(new.producer_id, old.producer_id);
        when 'payment_event' then
            entity_key := coalesce(new.payment_event_id, old.payment_event_id);
            -- the province of the money's orders (one, or the first of several)
            select min(pr.province_code) into province
            from shop_order o join producer pr using (producer_id)
            where o.order_group_id = coalesce(new.order_group_id, old.order_group_id);
    end case;
    if producer is not null then
        select pr.province_code into province from producer pr where pr.producer_id = producer;
    end if;
    select display_name, role into who from app_user where user_id = actor;
    insert into audit_log (actor_id, actor_name, actor_role, action, reason, entity, entity_id,
                           operation, province_code, producer_id, before, after)
    values (actor, coalesce(who.display_name, '?'), coalesce(who.role, '?'),
            coalesce(nullif(current_setting('ocop.action', true), ''), tg_table_name || '.' || lower(tg_op)),
            nullif(current_setting('ocop.reason', true), ''),
            tg_table_name, entity_key, tg_op, province, producer, row_old, row_new);
    return null;
end
$$;

create trigger shop_order_audit after update of status, cancel_reason, carrier, tracking_number on shop_order
    for each row execute function write_audit_log();
create trigger payment_event_audit after update of resolution, resolution_note on payment_event
    for each row execute function write_audit_log();
