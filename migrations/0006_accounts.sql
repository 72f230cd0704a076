-- Accounts. A person signs in with an email or a Vietnamese mobile number; staff are scoped to a
-- province (national staff and admins see all).
create table app_user (
    user_id bigint generated always as identity primary key,
    email text unique check (email = lower(email) and email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'),
    phone text unique check (phone ~ '^0[35789][0-9]{8}$'),
    display_name text not null check (length(btrim(display_name)) between 1 and 120),
    password_hash text not null check (password_hash like '$argon2id$%'),
    role text not null default 'shopper'
        check (role in ('shopper', 'producer', 'province_staff', 'national_staff', 'admin')),
    province_code smallint references province,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check (email is not null or phone is not null),
    -- province staff act for exactly one province; nobody else is tied to one
    check ((role = 'province_staff') = (province_code is not null))
);
create trigger app_user_updated_at before update on app_user for each row execute function set_updated_at();
