-- Closing the holes an attacker found (issue 14).

-- A refused callback keeps a bounded prefix and the hash of what arrived; refused events are
-- purged after a retention period, accepted ones are kept whole and forever.
alter table payment_event
    add column body_bytes integer,
    add column body_sha256 text check (body_sha256 ~ '^[0-9a-f]{64}$');
create index payment_event_rejected_idx on payment_event (received_at) where outcome = 'rejected';

-- Accounts an admin switched off: they cannot log in, and their sessions end.
alter table app_user add column disabled_at timestamptz;

-- Every uploaded file, with whose it is and how big, for quotas and for removing files nothing
-- points at any more.
create table media_file (
    name text primary key,
    producer_id bigint not null references producer,
    kind text not null check (kind in ('picture', 'scan')),
    bytes bigint not null check (bytes >= 0),
    created_at timestamptz not null default now()
);
create index media_file_producer_idx on media_file (producer_id);
create index media_file_created_idx on media_file (created_at);
-- the sweeper asks "does anything still point at this file?" per file: answered by index
create index product_images_idx on product using gin (images);
create index certificate_scan_idx on certificate (scan_file) where scan_file is not null;

-- What staff saw when they checked a certificate: the product's name and sector and everything
-- the certificate says, scan included. Verifying applies only to that version.
create function certificate_version(cert_id bigint) returns text language sql stable as $$
    select md5(concat_ws('|', p.name, p.sector, c.stars, c.awarding_level, c.awarding_body,
                         c.decision_number, c.issued_on, c.expires_on, c.scan_file))
    from certificate c join product p using (product_id)
    where c.certificate_id = cert_id
$$;
