-- The producer portal and the staff back office: who belongs to which producer, staff review of
-- producers and certificates, and an audit log that no code path can forget to write.

-- A producer registered in the portal starts as pending; staff of its province approve it or
-- reject it with a reason (the producer may correct and resubmit).
alter table producer
    add column reviewed_by bigint references app_user,
    add column reviewed_at timestamptz,
    add column rejection_reason text,
    add constraint producer_rejection_has_reason
        check (status <> 'rejected' or length(btrim(coalesce(rejection_reason, ''))) > 0);

-- A person works for at most one producer, as its owner or as staff the owner invited.
create table producer_member (
    producer_id bigint not null references producer on delete cascade,
    user_id bigint not null unique references app_user on delete cascade,
    role text not null check (role in ('owner', 'staff')),
    created_at timestamptz not null default now(),
    primary key (producer_id, user_id)
);

-- A certificate counts for the listing only once staff of the product's province verified it.
-- Rows written before the portal existed (seed, import by operators) count as verified.
alter table certificate
    add column verification text not null default 'verified'
        check (verification in ('pending', 'verified', 'rejected')),
    add column submitted_by bigint references app_user,
    add column verified_by bigint references app_user,
    add column verified_at timestamptz,
    add column rejection_reason text,
    -- the scanned decision, stored outside the public web folder
    add column scan_file text check (scan_file ~ '^[a-f0-9]{32}\.(pdf|jpg)$'),
    add constraint certificate_rejection_has_reason
        check (verification <> 'rejected' or length(btrim(coalesce(rejection_reason, ''))) > 0),
    -- only a verified certificate can be revoked
    add constraint certificate_revoked_was_verified
        check (status = 'active' or verification = 'verified');
create index certificate_pending_idx on certificate (created_at) where verification = 'pending';

-- Every change made through the portal or the back office, with who, what, when, why, and the row
-- before and after. Written by triggers inside the changing transaction, from what the app sets
-- with `set_config('ocop.actor_id' | 'ocop.action' | 'ocop.reason', ..., true)`: a change and its
-- audit entry commit or roll back together. Changes by operators' command-line tools (seed,
-- import) set no actor and are not logged here.
create table audit_log (
    audit_id bigint generated always as identity primary key,
    at timestamptz not null default now(),
    actor_id bigint references app_user on delete set null,
    actor_name text not null,
    actor_role text not null,
    action text not null,
    reason text,
    entity text not null,
    entity_id bigint not null,
    operation text not null check (operation in ('INSERT', 'UPDATE', 'DELETE')),
    province_code smallint references province,
    producer_id bigint,
    before jsonb,
    after jsonb
);
create index audit_log_at_idx on audit_log (audit_id desc);
create index audit_log_province_idx on audit_log (province_code, audit_id desc);
create index audit_log_producer_idx on audit_log (producer_id, audit_id desc);

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
    if tg_op <> 'INSERT' then row_old := to_jsonb(old) - 'password_hash' - 'updated_at'; end if;
    if tg_op <> 'DELETE' then row_new := to_jsonb(new) - 'password_hash' - 'updated_at'; end if;
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

create trigger producer_audit after insert or update or delete on producer
    for each row execute function write_audit_log();
create trigger product_audit after insert or update or delete on product
    for each row execute function write_audit_log();
create trigger certificate_audit after insert or update or delete on certificate
    for each row execute function write_audit_log();
create trigger producer_member_audit after insert or update or delete on producer_member
    for each row execute function write_audit_log();
create trigger app_user_audit after update of role, province_code, email, phone, display_name on app_user
    for each row execute function write_audit_log();
