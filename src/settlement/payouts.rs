//! Payouts: where a producer is paid (bank details, held back for a while after they change),
//! payout runs that freeze each producer's available balance into one line per run, the bank's
//! batch file and a VietQR per line, and each line's state machine (sent → paid | failed;
//! paid → returned), confirmed by staff or by the bank webhook seeing the transfer out.

use crate::domain::{Vnd, fold_vietnamese};
use crate::ledger::{Account, Component, Entry, Event, post};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use time::{Date, Duration, OffsetDateTime};

/// Vietnamese banks on NAPAS: (BIN, short name, full name). The BIN goes into transfer files and
/// VietQR codes.
pub const BANKS: &[(&str, &str, &str)] = &[
    (
        "970436",
        "Vietcombank",
        "Ngân hàng TMCP Ngoại thương Việt Nam",
    ),
    (
        "970415",
        "VietinBank",
        "Ngân hàng TMCP Công thương Việt Nam",
    ),
    (
        "970418",
        "BIDV",
        "Ngân hàng TMCP Đầu tư và Phát triển Việt Nam",
    ),
    (
        "970405",
        "Agribank",
        "Ngân hàng Nông nghiệp và Phát triển Nông thôn Việt Nam",
    ),
    ("970407", "Techcombank", "Ngân hàng TMCP Kỹ thương Việt Nam"),
    ("970422", "MB", "Ngân hàng TMCP Quân đội"),
    ("970416", "ACB", "Ngân hàng TMCP Á Châu"),
    ("970432", "VPBank", "Ngân hàng TMCP Việt Nam Thịnh Vượng"),
    ("970403", "Sacombank", "Ngân hàng TMCP Sài Gòn Thương Tín"),
    ("970423", "TPBank", "Ngân hàng TMCP Tiên Phong"),
    ("970441", "VIB", "Ngân hàng TMCP Quốc tế Việt Nam"),
    ("970443", "SHB", "Ngân hàng TMCP Sài Gòn - Hà Nội"),
    (
        "970437",
        "HDBank",
        "Ngân hàng TMCP Phát triển TP. Hồ Chí Minh",
    ),
    ("970448", "OCB", "Ngân hàng TMCP Phương Đông"),
    ("970426", "MSB", "Ngân hàng TMCP Hàng Hải Việt Nam"),
    ("970440", "SeABank", "Ngân hàng TMCP Đông Nam Á"),
    (
        "970431",
        "Eximbank",
        "Ngân hàng TMCP Xuất Nhập khẩu Việt Nam",
    ),
    ("970449", "LPBank", "Ngân hàng TMCP Lộc Phát Việt Nam"),
    ("970428", "Nam A Bank", "Ngân hàng TMCP Nam Á"),
    ("970409", "Bac A Bank", "Ngân hàng TMCP Bắc Á"),
    ("970425", "ABBANK", "Ngân hàng TMCP An Bình"),
    ("970452", "KienlongBank", "Ngân hàng TMCP Kiên Long"),
    ("970412", "PVcomBank", "Ngân hàng TMCP Đại Chúng Việt Nam"),
    ("970427", "VietABank", "Ngân hàng TMCP Việt Á"),
    ("970454", "BVBank", "Ngân hàng TMCP Bản Việt"),
    ("970400", "Saigonbank", "Ngân hàng TMCP Sài Gòn Công Thương"),
    ("970419", "NCB", "Ngân hàng TMCP Quốc Dân"),
    ("970438", "BaoViet Bank", "Ngân hàng TMCP Bảo Việt"),
    ("970446", "Co-opBank", "Ngân hàng Hợp tác xã Việt Nam"),
];

pub fn bank_name(bin: &str) -> Option<&'static str> {
    BANKS.iter().find(|b| b.0 == bin).map(|b| b.1)
}

/// Where a producer is paid, checked: a bank on the list, an account number of 6 to 19 digits,
/// and the holder's name as banks print it (capitals, no diacritics).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BankDetails {
    pub bank_bin: String,
    pub account_no: String,
    pub holder_name: String,
}

impl BankDetails {
    pub fn parse(bin: &str, account: &str, holder: &str) -> Result<BankDetails, &'static str> {
        let bin = bin.trim();
        if bank_name(bin).is_none() {
            return Err("Vui lòng chọn ngân hàng trong danh sách.");
        }
        let account: String = account
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-' && *c != '.')
            .collect();
        if !(6..=19).contains(&account.len()) || !account.chars().all(|c| c.is_ascii_digit()) {
            return Err("Số tài khoản chỉ gồm chữ số, từ 6 đến 19 số.");
        }
        let holder = fold_vietnamese(holder.trim())
            .to_uppercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if !(2..=70).contains(&holder.len())
            || !holder.chars().all(|c| c.is_ascii_uppercase() || c == ' ')
        {
            return Err(
                "Tên chủ tài khoản chỉ gồm chữ cái, đúng như ngân hàng in trên thẻ hoặc sổ (ví dụ: NGUYEN VAN A).",
            );
        }
        Ok(BankDetails {
            bank_bin: bin.to_string(),
            account_no: account,
            holder_name: holder,
        })
    }

    /// The account number with all but its last four digits hidden, for mails and pages.
    pub fn masked(&self) -> String {
        let n = self.account_no.len();
        format!(
            "{}{}",
            "•".repeat(n.saturating_sub(4)),
            &self.account_no[n.saturating_sub(4)..]
        )
    }
}

/// Saves a producer's bank details. A change (not the first entry) holds payouts back for the
/// configured hours, so a stolen password cannot redirect the next payout at once. Returns until
/// when payouts wait, if they do.
pub async fn save_details(
    pool: &PgPool,
    producer_id: i64,
    user_id: i64,
    d: &BankDetails,
) -> Result<Option<OffsetDateTime>, sqlx::Error> {
    let mut tx = crate::audit::begin(pool, user_id, "payout.account", None).await?;
    let hold = sqlx::query_scalar!("select bank_change_hold_hours from settlement_setting")
        .fetch_one(&mut *tx)
        .await?;
    let until = sqlx::query_scalar!(
        r#"insert into payout_account (producer_id, bank_bin, account_no, holder_name, changed_by)
           values ($1, $2, $3, $4, $5)
           on conflict (producer_id) do update set bank_bin = excluded.bank_bin, account_no = excluded.account_no,
               holder_name = excluded.holder_name, changed_by = excluded.changed_by, changed_at = now(),
               payouts_from = case when (payout_account.bank_bin, payout_account.account_no, payout_account.holder_name)
                                        = (excluded.bank_bin, excluded.account_no, excluded.holder_name)
                                   then payout_account.payouts_from
                                   else now() + make_interval(hours => $6) end
           returning payouts_from"#,
        producer_id,
        d.bank_bin,
        d.account_no,
        d.holder_name,
        user_id,
        hold
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((until > OffsetDateTime::now_utc()).then_some(until))
}

pub async fn details(
    pool: &PgPool,
    producer_id: i64,
) -> Result<Option<(BankDetails, OffsetDateTime)>, sqlx::Error> {
    Ok(sqlx::query!(
        "select bank_bin, account_no, holder_name, payouts_from from payout_account where producer_id = $1",
        producer_id
    )
    .fetch_optional(pool)
    .await?
    .map(|r| {
        (
            BankDetails {
                bank_bin: r.bank_bin,
                account_no: r.account_no,
                holder_name: r.holder_name,
            },
            r.payouts_from,
        )
    }))
}

/// A payout line's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum LineStatus {
    Sent,
    Paid,
    Failed,
    Returned,
}

impl LineStatus {
    pub fn label(self) -> &'static str {
        match self {
            LineStatus::Sent => "Đã lập lệnh, chờ ngân hàng",
            LineStatus::Paid => "Đã chuyển",
            LineStatus::Failed => "Không thành công, tiền về lại số dư",
            LineStatus::Returned => "Bị ngân hàng trả lại, tiền về lại số dư",
        }
    }

    /// The only moves: a sent transfer goes through or fails; one that went through may come back.
    pub fn allows(self, to: LineStatus) -> bool {
        matches!(
            (self, to),
            (LineStatus::Sent, LineStatus::Paid)
                | (LineStatus::Sent, LineStatus::Failed)
                | (LineStatus::Paid, LineStatus::Returned)
        )
    }

    fn event(self) -> Event {
        match self {
            LineStatus::Sent => Event::PayoutSent,
            LineStatus::Paid => Event::PayoutPaid,
            LineStatus::Failed => Event::PayoutFailed,
            LineStatus::Returned => Event::PayoutReturned,
        }
    }

    fn key(self) -> &'static str {
        match self {
            LineStatus::Sent => "payout",
            LineStatus::Paid => "payout_paid",
            LineStatus::Failed => "payout_failed",
            LineStatus::Returned => "payout_returned",
        }
    }
}

/// The entry for a line reaching `status`: frozen from the balance, sent out of the bank, or
/// back into the balance.
fn entry(line_id: i64, producer_id: i64, amount: Vnd, status: LineStatus) -> Entry {
    let mut e = Entry::new(format!("{}:{line_id}", status.key()), status.event());
    e.producer_id = Some(producer_id);
    e.payout_line_id = Some(line_id);
    let (debit, credit) = match status {
        LineStatus::Sent => (Account::Payable, Account::PayoutsInFlight),
        LineStatus::Paid => (Account::PayoutsInFlight, Account::ClearingBank),
        LineStatus::Failed => (Account::PayoutsInFlight, Account::Payable),
        LineStatus::Returned => (Account::ClearingBank, Account::Payable),
    };
    e.transfer(debit, credit, Component::Payout, amount);
    e
}

/// What starting a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// a new run with this many lines
    New { run_id: i64, lines: usize },
    /// this province's run for that day exists already (another instance or person made it)
    Exists { run_id: i64 },
}

/// Starts the province's payout run for `run_on`: each of its producers with an available
/// balance of at least the minimum and bank details past their hold gets one line, its amount
/// frozen in the ledger. One transaction: an interrupted run leaves nothing behind, and a second
/// start the same day finds the first.
pub async fn start_run(
    pool: &PgPool,
    province: i16,
    run_on: Date,
    staff: Option<i64>,
    now: OffsetDateTime,
) -> Result<Started, sqlx::Error> {
    let mut tx = match staff {
        Some(id) => crate::audit::begin(pool, id, "payout.run", None).await?,
        None => pool.begin().await?,
    };
    let Some(run_id) = sqlx::query_scalar!(
        "insert into payout_run (province_code, run_on, started_by) values ($1, $2, $3)
         on conflict (province_code, run_on) do nothing returning payout_run_id",
        province,
        run_on,
        staff
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        drop(tx);
        let run_id = sqlx::query_scalar!(
            "select payout_run_id from payout_run where province_code = $1 and run_on = $2",
            province,
            run_on
        )
        .fetch_one(pool)
        .await?;
        return Ok(Started::Exists { run_id });
    };
    let lines = sqlx::query!(
        r#"with balance as (
               select b.producer_id, sum(b.payable) as available
               from (select producer_id, payable from producer_balance
                     union all
                     select producer_id, payable from producer_balance_delta) b
               join producer pr using (producer_id)
               where pr.province_code = $2
               group by b.producer_id
           )
           insert into payout_line (payout_run_id, producer_id, amount, bank_bin, account_no, holder_name)
           select $1, b.producer_id, b.available, a.bank_bin, a.account_no, a.holder_name
           from balance b join payout_account a using (producer_id)
           where b.available >= (select payout_min_vnd from settlement_setting) and a.payouts_from <= $3
           order by b.producer_id
           returning payout_line_id, producer_id, amount as "amount: Vnd""#,
        run_id,
        province,
        now
    )
    .fetch_all(&mut *tx)
    .await?;
    let entries: Vec<Entry> = lines
        .iter()
        .map(|l| {
            let mut e = entry(l.payout_line_id, l.producer_id, l.amount, LineStatus::Sent);
            e.province_code = Some(province);
            e.at = Some(now);
            e
        })
        .collect();
    post(&mut tx, &entries).await?;
    tx.commit().await?;
    Ok(Started::New {
        run_id,
        lines: lines.len(),
    })
}

/// Moves a line to `to` with its ledger entry, if its state machine allows; `Err` says why not
/// in words staff read.
pub async fn settle_line(
    conn: &mut PgConnection,
    line_id: i64,
    to: LineStatus,
    bank_ref: Option<&str>,
    note: Option<&str>,
    staff: Option<i64>,
) -> Result<Result<(), &'static str>, sqlx::Error> {
    // the line and its entry change together (a savepoint inside the caller's transaction)
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let done = settle_in(&mut tx, line_id, to, bank_ref, note, staff).await?;
    if done.is_ok() {
        tx.commit().await?;
    }
    Ok(done)
}

async fn settle_in(
    conn: &mut PgConnection,
    line_id: i64,
    to: LineStatus,
    bank_ref: Option<&str>,
    note: Option<&str>,
    staff: Option<i64>,
) -> Result<Result<(), &'static str>, sqlx::Error> {
    let Some(line) = sqlx::query!(
        r#"select l.status as "status: LineStatus", l.producer_id, l.amount as "amount: Vnd", pr.province_code
           from payout_line l join producer pr using (producer_id) where payout_line_id = $1 for update of l"#,
        line_id
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(Err("Không tìm thấy lệnh chi trả."));
    };
    if line.status == to {
        // the same confirmation twice (a webhook retried, a double click): nothing more to do
        return Ok(Ok(()));
    }
    if !line.status.allows(to) {
        return Ok(Err(match line.status {
            LineStatus::Paid => "Lệnh này đã được xác nhận đã chuyển.",
            _ => "Lệnh này đã kết thúc; số tiền đã về lại số dư của nhà sản xuất.",
        }));
    }
    sqlx::query!(
        "update payout_line set status = $2, bank_ref = coalesce($3, bank_ref), note = coalesce($4, note),
             settled_at = now(), settled_by = $5
         where payout_line_id = $1",
        line_id,
        to as LineStatus,
        bank_ref,
        note,
        staff
    )
    .execute(&mut *conn)
    .await?;
    let mut e = entry(line_id, line.producer_id, line.amount, to);
    e.province_code = Some(line.province_code);
    e.actor = staff;
    e.memo = bank_ref.or(note).map(str::to_string);
    post(conn, &[e]).await?;
    Ok(Ok(()))
}

/// A payout reference (`OCOPPAY` + 8 digits) in a transfer's text.
pub fn reference_in(memo: &str) -> Option<String> {
    let upper = memo.to_uppercase();
    let at = upper.find("OCOPPAY")?;
    let digits: String = upper[at + 7..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (digits.len() == 8).then(|| format!("OCOPPAY{digits}"))
}

/// What the bank webhook saw about a payout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Confirmed,
    Returned,
    /// no such line, or the amount differs: staff look at it
    Unmatched,
}

/// A transfer the marketplace's bank reported with a payout reference in its memo: out of the
/// account confirms the line, back into it means the bank returned it.
pub async fn on_bank_transfer(
    pool: &PgPool,
    outgoing: bool,
    amount: Vnd,
    memo: &str,
    bank_ref: &str,
) -> Result<Seen, sqlx::Error> {
    let Some(reference) = reference_in(memo) else {
        return Ok(Seen::Unmatched);
    };
    let mut tx = pool.begin().await?;
    let Some(line) = sqlx::query!(
        r#"select payout_line_id, amount as "amount: Vnd", status as "status: LineStatus" from payout_line where reference = $1"#,
        reference
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(Seen::Unmatched);
    };
    if line.amount != amount {
        return Ok(Seen::Unmatched);
    }
    let (to, seen) = if outgoing {
        (LineStatus::Paid, Seen::Confirmed)
    } else if line.status == LineStatus::Sent {
        (LineStatus::Failed, Seen::Returned)
    } else {
        (LineStatus::Returned, Seen::Returned)
    };
    let note = (!outgoing).then_some("Ngân hàng trả lại tiền");
    match settle_line(&mut tx, line.payout_line_id, to, Some(bank_ref), note, None).await? {
        Ok(()) => {
            tx.commit().await?;
            Ok(seen)
        }
        Err(_) => Ok(Seen::Unmatched),
    }
}

/// Starts each province's weekly run on the payout day (Vietnam time). Safe with several
/// instances: the run of a province and day is made once.
pub async fn run_weekly_once(pool: &PgPool, now: OffsetDateTime) -> Result<usize, sqlx::Error> {
    let today = now.to_offset(crate::domain::VN_OFFSET).date();
    let weekday: i32 = sqlx::query_scalar!("select payout_weekday from settlement_setting")
        .fetch_one(pool)
        .await?;
    if i32::from(today.weekday().number_from_monday()) != weekday {
        return Ok(0);
    }
    let provinces = sqlx::query_scalar!(
        "select distinct pr.province_code from payout_account a join producer pr using (producer_id)"
    )
    .fetch_all(pool)
    .await?;
    let mut made = 0;
    for p in provinces {
        if let Started::New { .. } = start_run(pool, p, today, None, now).await? {
            made += 1;
        }
    }
    Ok(made)
}

pub async fn weekly_forever(pool: PgPool, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match run_weekly_once(&pool, OffsetDateTime::now_utc()).await {
            Ok(n) if n > 0 => tracing::info!(runs = n, "weekly payout runs started"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "weekly payout run failed; retrying"),
        }
    }
}

/// The next weekly payout day from `today`.
pub fn next_payout_day(today: Date, weekday: i32) -> Date {
    let now = i32::from(today.weekday().number_from_monday());
    let ahead = (weekday - now).rem_euclid(7);
    today + Duration::days(ahead.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bank_details_are_checked_and_written_as_banks_print_them() {
        let d = BankDetails::parse("970436", "0071 0012 34567", "Nguyễn Thị Hoà").unwrap();
        assert_eq!(d.account_no, "0071001234567");
        assert_eq!(d.holder_name, "NGUYEN THI HOA");
        assert_eq!(d.masked(), "•••••••••4567");
        assert!(BankDetails::parse("123456", "0071001234567", "A B").is_err());
        assert!(BankDetails::parse("970436", "12345", "NGUYEN VAN A").is_err());
        assert!(BankDetails::parse("970436", "00710012345AB", "NGUYEN VAN A").is_err());
        assert!(BankDetails::parse("970436", "0071001234567", "<script>").is_err());
    }

    #[test]
    fn a_payout_line_is_paid_once_and_only_a_paid_one_comes_back() {
        use LineStatus::*;
        assert!(Sent.allows(Paid) && Sent.allows(Failed) && Paid.allows(Returned));
        assert!(!Paid.allows(Sent), "never sent twice");
        assert!(
            !Failed.allows(Paid),
            "a failed line's money is back in the balance"
        );
        assert!(!Returned.allows(Paid));
        assert!(!Sent.allows(Returned));
    }

    #[test]
    fn payout_references_are_found_in_the_bank_s_memo() {
        assert_eq!(
            reference_in("MBVCB.1.ocoppay00000042 chi tra"),
            Some("OCOPPAY00000042".into())
        );
        assert_eq!(reference_in("OCOPPAY123"), None);
        assert_eq!(reference_in("OCOPAB12CD34"), None);
    }

    #[test]
    fn the_next_payout_day_is_this_week_s_or_next() {
        use time::macros::date;
        // 2026-12-03 is a Thursday
        assert_eq!(
            next_payout_day(date!(2026 - 12 - 03), 1),
            date!(2026 - 12 - 07)
        );
        assert_eq!(
            next_payout_day(date!(2026 - 12 - 03), 4),
            date!(2026 - 12 - 03)
        );
    }
}
