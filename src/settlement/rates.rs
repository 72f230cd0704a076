//! The rates settlement applies, as staff configured them: commission rules (dated, most specific
//! wins), what each payment channel charges and who bears it, the tax withheld for household
//! sellers (Decree 117/2025/NĐ-CP, dated), and how settlement runs (return window, payout minimum,
//! the hold after bank details change, the payout day).

use super::OrderFacts;
use crate::domain::{ProducerType, Sector, Vnd};
use crate::payments::PaymentMethod;
use serde::Serialize;
use sqlx::PgConnection;
use time::{Date, Duration, OffsetDateTime};

#[derive(Debug, Clone, Serialize)]
pub struct CommissionRule {
    pub id: i64,
    pub province_code: Option<i16>,
    pub producer_id: Option<i64>,
    pub sector: Option<Sector>,
    pub producer_type: Option<ProducerType>,
    pub rate_bp: i32,
    pub valid_from: OffsetDateTime,
    pub reason: String,
}

impl CommissionRule {
    fn applies(&self, f: &OrderFacts, sector: Option<Sector>) -> bool {
        self.valid_from <= f.placed_at
            && self.producer_id.is_none_or(|p| p == f.producer_id)
            && self.province_code.is_none_or(|p| p == f.province_code)
            && self.sector.is_none_or(|s| Some(s) == sector)
            && self
                .producer_type
                .is_none_or(|t| Some(t) == f.producer_type)
    }

    /// More specific first: the producer's own, then its province's, then sector, then type;
    /// among equals the latest.
    fn rank(&self) -> (bool, bool, bool, bool, OffsetDateTime, i64) {
        (
            self.producer_id.is_some(),
            self.province_code.is_some(),
            self.sector.is_some(),
            self.producer_type.is_some(),
            self.valid_from,
            self.id,
        )
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Fee {
    pub rate_bp: i32,
    pub producer_pays: bool,
}

/// What a sale is for the tax office.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxKind {
    Goods,
    Services,
}

impl TaxKind {
    /// Tourism is a service; a line whose sector is unknown pays the highest rate.
    pub fn of(sector: Option<Sector>) -> TaxKind {
        match sector {
            Some(Sector::Tourism) | None => TaxKind::Services,
            Some(_) => TaxKind::Goods,
        }
    }

    fn key(self) -> &'static str {
        match self {
            TaxKind::Goods => "goods",
            TaxKind::Services => "services",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaxRate {
    pub vat_bp: i32,
    pub pit_bp: i32,
}

/// Household businesses and individuals (a cooperative group is a contract between individuals,
/// not a legal person) have their tax withheld; firms and cooperatives declare their own.
pub fn withholds(t: Option<ProducerType>) -> bool {
    matches!(
        t,
        Some(ProducerType::Household | ProducerType::CoopGroup) | None
    )
}

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub return_window_days: i32,
    pub payout_min_vnd: Vnd,
    pub bank_change_hold_hours: i32,
    pub payout_weekday: i32,
}

/// What each payment channel charges: all a payment needs, read on its own (the callback path
/// reads nothing more).
#[derive(Debug, Clone, Default)]
pub struct Fees(pub Vec<(PaymentMethod, Fee)>);

impl Fees {
    pub async fn load(conn: &mut PgConnection) -> Result<Fees, sqlx::Error> {
        Ok(Fees(
            sqlx::query!(
                r#"select method as "method: PaymentMethod", rate_bp, payer from channel_fee"#
            )
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|r| {
                (
                    r.method,
                    Fee {
                        rate_bp: r.rate_bp,
                        producer_pays: r.payer == "producer",
                    },
                )
            })
            .collect(),
        ))
    }

    /// The channel's fee, if it charges one (cash on delivery never does).
    pub fn fee(&self, method: PaymentMethod) -> Option<Fee> {
        if method == PaymentMethod::Cod {
            return None;
        }
        self.0
            .iter()
            .find(|(m, _)| *m == method)
            .map(|(_, f)| *f)
            .filter(|f| f.rate_bp > 0)
    }
}

#[derive(Debug, Clone)]
pub struct Rates {
    pub commission: Vec<CommissionRule>,
    pub fees: Fees,
    /// (kind, valid from, rate), latest first
    pub tax: Vec<(String, Date, TaxRate)>,
    pub settings: Settings,
}

impl Rates {
    pub async fn load(conn: &mut PgConnection) -> Result<Rates, sqlx::Error> {
        let commission = commission_rules(&mut *conn).await?;
        let fees = Fees::load(&mut *conn).await?;
        let tax = sqlx::query!(
            "select kind, valid_from, vat_bp, pit_bp from tax_rate order by valid_from desc"
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r| {
            (
                r.kind,
                r.valid_from,
                TaxRate {
                    vat_bp: r.vat_bp,
                    pit_bp: r.pit_bp,
                },
            )
        })
        .collect();
        let settings = settings(&mut *conn).await?;
        Ok(Rates {
            commission,
            fees,
            tax,
            settings,
        })
    }

    /// The commission on a line of this order: the most specific rule in force when it was placed.
    pub fn commission_bp(&self, f: &OrderFacts, sector: Option<Sector>) -> i32 {
        self.commission
            .iter()
            .filter(|r| r.applies(f, sector))
            .max_by_key(|r| r.rank())
            .map_or(0, |r| r.rate_bp)
    }

    /// The rates in force on `day` (none before the decree).
    pub fn tax(&self, kind: TaxKind, day: Date) -> TaxRate {
        self.tax
            .iter()
            .find(|(k, from, _)| k == kind.key() && *from <= day)
            .map(|(_, _, r)| *r)
            .unwrap_or_default()
    }

    pub fn return_window(&self) -> Duration {
        Duration::days(self.settings.return_window_days.into())
    }
}

pub async fn commission_rules(conn: &mut PgConnection) -> Result<Vec<CommissionRule>, sqlx::Error> {
    Ok(sqlx::query!(
        "select commission_rule_id, province_code, producer_id, sector, producer_type, rate_bp, valid_from, reason
         from commission_rule order by valid_from desc, commission_rule_id desc"
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| CommissionRule {
        id: r.commission_rule_id,
        province_code: r.province_code,
        producer_id: r.producer_id,
        sector: r.sector.as_deref().and_then(Sector::from_key),
        producer_type: r.producer_type.as_deref().and_then(ProducerType::from_key),
        rate_bp: r.rate_bp,
        valid_from: r.valid_from,
        reason: r.reason,
    })
    .collect())
}

pub async fn settings(conn: &mut PgConnection) -> Result<Settings, sqlx::Error> {
    let s = sqlx::query!(
        r#"select return_window_days, payout_min_vnd as "payout_min_vnd: Vnd", bank_change_hold_hours, payout_weekday
           from settlement_setting"#
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Settings {
        return_window_days: s.return_window_days,
        payout_min_vnd: s.payout_min_vnd,
        bank_change_hold_hours: s.bank_change_hold_hours,
        payout_weekday: s.payout_weekday,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Account;
    use crate::orders::Status;
    use time::macros::datetime;

    fn order(ptype: ProducerType) -> OrderFacts {
        OrderFacts {
            order_id: 1,
            producer_id: 7,
            province_code: 22,
            producer_type: Some(ptype),
            status: Status::Delivered,
            goods: Vnd::new(300_000),
            shipping: Vnd::new(30_000),
            discounts: Default::default(),
            placed_at: datetime!(2026-03-01 10:00 UTC),
            updated_at: datetime!(2026-03-05 10:00 UTC),
            delivered_at: Some(datetime!(2026-03-05 10:00 UTC)),
            paid: Some((PaymentMethod::Vnpay, datetime!(2026-03-01 10:05 UTC))),
            lines: vec![
                (Vnd::new(200_000), Some(Sector::Food)),
                (Vnd::new(100_000), Some(Sector::Tourism)),
            ],
            posted: vec![],
            carried: None,
        }
    }

    fn rule(id: i64, rate_bp: i32, from: OffsetDateTime) -> CommissionRule {
        CommissionRule {
            id,
            province_code: None,
            producer_id: None,
            sector: None,
            producer_type: None,
            rate_bp,
            valid_from: from,
            reason: "test".into(),
        }
    }

    fn rates(commission: Vec<CommissionRule>) -> Rates {
        Rates {
            commission,
            fees: Fees(vec![(
                PaymentMethod::Vnpay,
                Fee {
                    rate_bp: 110,
                    producer_pays: false,
                },
            )]),
            tax: vec![
                (
                    "goods".into(),
                    time::macros::date!(2025 - 07 - 01),
                    TaxRate {
                        vat_bp: 100,
                        pit_bp: 50,
                    },
                ),
                (
                    "services".into(),
                    time::macros::date!(2025 - 07 - 01),
                    TaxRate {
                        vat_bp: 500,
                        pit_bp: 200,
                    },
                ),
            ],
            settings: Settings {
                return_window_days: 7,
                payout_min_vnd: Vnd::new(100_000),
                bank_change_hold_hours: 72,
                payout_weekday: 1,
            },
        }
    }

    #[test]
    fn the_most_specific_rule_in_force_when_the_order_was_placed_wins() {
        let f = order(ProducerType::Cooperative);
        let mut coops = rule(2, 0, datetime!(2026-01-01 0:00 UTC));
        coops.producer_type = Some(ProducerType::Cooperative);
        coops.province_code = Some(22);
        let mut own = rule(3, 300, datetime!(2026-02-01 0:00 UTC));
        own.producer_id = Some(7);
        let later = rule(4, 900, datetime!(2026-04-01 0:00 UTC));
        let r = rates(vec![
            rule(1, 500, datetime!(2025-01-01 0:00 UTC)),
            coops.clone(),
            later.clone(),
        ]);
        assert_eq!(
            r.commission_bp(&f, Some(Sector::Food)),
            0,
            "the province's 0% for cooperatives"
        );
        let r = rates(vec![
            rule(1, 500, datetime!(2025-01-01 0:00 UTC)),
            coops,
            own,
            later,
        ]);
        assert_eq!(
            r.commission_bp(&f, Some(Sector::Food)),
            300,
            "the producer's own rate"
        );
        let r = rates(vec![
            rule(1, 500, datetime!(2025-01-01 0:00 UTC)),
            rule(5, 900, datetime!(2026-04-01 0:00 UTC)),
        ]);
        assert_eq!(
            r.commission_bp(&f, Some(Sector::Food)),
            500,
            "a change applies to orders placed after it"
        );
    }

    #[test]
    fn households_have_goods_and_services_tax_withheld_and_firms_none() {
        let r = rates(vec![rule(1, 500, datetime!(2025-01-01 0:00 UTC))]);
        let at = datetime!(2026-03-12 10:00 UTC);
        let s = super::super::split(&order(ProducerType::Household), &r, at);
        // food 200.000: VAT 1% 2.000, PIT 0,5% 1.000; tourism 100.000: VAT 5% 5.000, PIT 2% 2.000
        assert_eq!(s.vat, Vnd::new(7_000));
        assert_eq!(s.pit, Vnd::new(3_000));
        assert_eq!(s.commission, Vnd::new(15_000));
        let s = super::super::split(&order(ProducerType::Firm), &r, at);
        assert_eq!((s.vat, s.pit), (Vnd::ZERO, Vnd::ZERO));
        let mut unknown = order(ProducerType::Household);
        unknown.lines = vec![(Vnd::new(100_000), None)];
        let s = super::super::split(&unknown, &r, at);
        assert_eq!(
            (s.vat, s.pit),
            (Vnd::new(5_000), Vnd::new(2_000)),
            "the highest rate"
        );
        let before = super::super::split(
            &order(ProducerType::Household),
            &r,
            datetime!(2025-06-30 10:00 UTC),
        );
        assert_eq!(before.vat, Vnd::ZERO, "nothing withheld before the decree");
    }

    #[test]
    fn every_entry_of_a_sale_balances_and_the_shopper_s_money_is_all_accounted_for() {
        use crate::ledger::Account;
        let r = rates(vec![rule(1, 500, datetime!(2025-01-01 0:00 UTC))]);
        let f = order(ProducerType::Household);
        let paid = super::super::money_in(&f, &r.fees).unwrap();
        assert_eq!(paid.sum(), Vnd::ZERO);
        let held: Vnd = -paid
            .lines
            .iter()
            .filter(|l| l.account == Account::Held)
            .map(|l| l.amount)
            .sum::<Vnd>();
        assert_eq!(held, Vnd::new(330_000));
        let rel = super::super::release(&f, &r, held, datetime!(2026-03-12 10:00 UTC));
        assert_eq!(rel.sum(), Vnd::ZERO);
        let of = |a: Account| {
            -rel.lines
                .iter()
                .filter(|l| l.account == a)
                .map(|l| l.amount)
                .sum::<Vnd>()
        };
        assert_eq!(
            of(Account::Payable)
                + of(Account::Commission)
                + of(Account::VatWithheld)
                + of(Account::PitWithheld),
            f.total(),
            "what the shopper paid = payable + commission + taxes"
        );
        let rev =
            super::super::reversal(&f, &rel.lines, Vnd::ZERO, datetime!(2026-03-20 10:00 UTC));
        assert_eq!(rev.sum(), Vnd::ZERO);
    }

    #[test]
    fn a_carried_parcel_pays_its_carrier_from_the_shopper_or_from_a_free_parcels_producer() {
        let rates = rates(vec![]);
        let sum = |e: &crate::ledger::Entry, a: Account| -> i64 {
            e.lines
                .iter()
                .filter(|l| l.account == a)
                .map(|l| l.amount.amount())
                .sum()
        };
        let at = datetime!(2026-03-20 10:00 UTC);
        let mut f = order(ProducerType::Cooperative);
        let held = f.total();
        let own = super::super::release(&f, &rates, held, at);
        assert_eq!(
            sum(&own, Account::CarriersPayable),
            0,
            "shipped by the producer itself"
        );
        f.carried = Some(super::super::Carried {
            fee: Vnd::new(30_000),
            producer_pays: false,
            cod_remitted_at: None,
        });
        let carried = super::super::release(&f, &rates, held, at);
        assert_eq!(sum(&carried, Account::CarriersPayable), -30_000);
        assert_eq!(
            sum(&own, Account::Payable) - sum(&carried, Account::Payable),
            -30_000,
            "the shopper's shipping is the carrier's, not the producer's"
        );
        f.shipping = Vnd::ZERO;
        f.carried = Some(super::super::Carried {
            fee: Vnd::new(28_000),
            producer_pays: true,
            cod_remitted_at: None,
        });
        let free = super::super::release(&f, &rates, f.total(), at);
        assert_eq!(sum(&free, Account::CarriersPayable), -28_000);
        assert_eq!(free.sum(), Vnd::ZERO);
    }
}
