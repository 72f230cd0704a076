-- Tourism experiences (OCOP sector 6) sold by the slot: a calendar of slots from weekly rules,
-- a capacity per slot that is never oversold, and a voucher per booking checked in once.

create table experience (
    product_id bigint primary key references product,
    duration_minutes integer not null check (duration_minutes between 15 and 10080),
    meeting_point text not null check (length(btrim(meeting_point)) between 3 and 300),
    languages text[] not null default '{vi}',
    capacity integer not null check (capacity between 1 and 500),
    -- bookings close this many hours before a slot starts
    cutoff_hours integer not null default 12 check (cutoff_hours between 0 and 720),
    -- a booking cancelled at least this many hours before the start is refunded in full; later,
    -- nothing is refunded (and a no-show is not either)
    free_cancel_hours integer not null default 48 check (free_cancel_hours between 0 and 720),
    -- the weekly rule: days (1 = Monday … 7 = Sunday) and start times (minutes after midnight,
    -- Vietnam time)
    weekdays smallint[] not null check (cardinality(weekdays) between 1 and 7),
    start_minutes smallint[] not null check (cardinality(start_minutes) between 1 and 12),
    updated_at timestamptz not null default now()
);

-- The slots the rule made, with the exceptions: a slot the producer closed takes no booking.
create table experience_slot (
    slot_id bigint generated always as identity primary key,
    product_id bigint not null references experience,
    starts_at timestamptz not null,
    capacity integer not null check (capacity > 0),
    booked integer not null default 0 check (booked >= 0 and booked <= capacity),
    closed boolean not null default false,
    unique (product_id, starts_at)
);

-- One voucher per booking: its short code goes into the QR the producer scans at the meeting
-- point; it is used once.
create table booking (
    booking_id bigint generated always as identity primary key,
    order_id bigint not null references shop_order,
    slot_id bigint not null references experience_slot,
    guests integer not null check (guests between 1 and 50),
    code text not null unique check (code ~ '^BK[A-HJ-NP-Z2-9]{6}$'),
    redeemed_at timestamptz,
    redeemed_by bigint references app_user,
    unique (order_id, slot_id)
);
create index booking_slot_idx on booking (slot_id);
