//! The payment providers' accounts and secrets, read once from the configuration (never logged).
//! In sandbox mode what is not configured gets a published test value, so the simulated pages
//! can sign their callbacks.

use super::method::PaymentMethod;
use serde::Serialize;

/// Secrets and accounts of every provider, from the environment. In sandbox mode, what is not
/// configured gets a published test value, so the simulated pages can sign their callbacks.
#[derive(Clone)]
pub struct Providers {
    pub sandbox: bool,
    pub bank: Option<BankAccount>,
    pub sepay_api_key: Option<String>,
    pub sepay_secret: Option<String>,
    pub casso_key: Option<String>,
    pub vnpay: Option<Vnpay>,
    pub momo: Option<Momo>,
    pub stripe: Option<Stripe>,
    /// how long an online attempt may stay unconfirmed before its provider is asked
    pub reconcile_after: std::time::Duration,
}

#[derive(Clone, Debug, Serialize)]
pub struct BankAccount {
    pub bin: String,
    pub number: String,
    pub name: String,
}

/// The bank a NAPAS BIN belongs to, as shoppers know it (the banks most accounts are at; the
/// State Bank of Vietnam's list has the rest).
pub fn bank_brand(bin: &str) -> Option<&'static str> {
    Some(match bin {
        "970436" => "Vietcombank",
        "970415" => "VietinBank",
        "970418" => "BIDV",
        "970405" => "Agribank",
        "970422" => "MB Bank",
        "970407" => "Techcombank",
        "970416" => "ACB",
        "970432" => "VPBank",
        "970423" => "TPBank",
        "970403" => "Sacombank",
        "970437" => "HDBank",
        "970441" => "VIB",
        "970443" => "SHB",
        "970448" => "OCB",
        "970426" => "MSB",
        "970431" => "Eximbank",
        "970440" => "SeABank",
        "970449" => "LPBank",
        "970454" => "Bản Việt",
        "970425" => "ABBANK",
        "970409" => "Bac A Bank",
        "970452" => "KienlongBank",
        "970428" => "Nam A Bank",
        "970412" => "PVcomBank",
        _ => return None,
    })
}

#[derive(Clone)]
pub struct Vnpay {
    pub tmn_code: String,
    pub secret: String,
    pub url: String,
    /// the merchant API that answers `querydr`
    pub api_url: String,
}

#[derive(Clone)]
pub struct Momo {
    pub partner_code: String,
    pub access_key: String,
    pub secret_key: String,
    pub endpoint: String,
}

#[derive(Clone)]
pub struct Stripe {
    pub secret_key: String,
    pub webhook_secret: String,
    pub api_url: String,
}

impl Stripe {
    /// An async-stripe client for this account, pointed at `api_url` (the sandbox's, in tests).
    pub fn client(&self) -> Result<stripe::Client, String> {
        stripe::ClientBuilder::new(self.secret_key.clone())
            .url(self.api_url.clone())
            .build()
            .map_err(|e| format!("Stripe client: {e}"))
    }
}

// Test values the sandbox signs with (the payments.md test keys where there are some).
pub const SANDBOX_SEPAY_SECRET: &str = "sandbox-sepay-secret";
pub const SANDBOX_SEPAY_API_KEY: &str = "sandbox-sepay-api-key";
pub const SANDBOX_CASSO_KEY: &str =
    "mgExMrjj4i7a1p8Cs6LmFbpCd8lbw4sSX4LZXPag7TKazeIogtR90tvWYTkwQbvs";
pub const SANDBOX_VNPAY_SECRET: &str = "TESTSECRET0123456789ABCDEFGHIJKL";
pub const SANDBOX_MOMO_SECRET: &str = "SECRETKEYTEST";
pub const SANDBOX_STRIPE_WEBHOOK_SECRET: &str = "whsec_test_secret";

impl Providers {
    pub fn from_config(c: &crate::config::Config) -> Providers {
        let public = c.public_url();
        // server-to-server calls to the sandbox stay on this instance
        let local = format!("http://{}", c.bind);
        let sandbox = c.payment_sandbox;
        let or_test = |v: &Option<String>, test: &str| {
            v.clone().or_else(|| sandbox.then(|| test.to_string()))
        };
        let bank = match (&c.vietqr_bank_bin, &c.vietqr_account_no) {
            (Some(bin), Some(number)) => Some(BankAccount {
                bin: bin.clone(),
                number: number.clone(),
                name: c.vietqr_account_name.clone().unwrap_or_default(),
            }),
            _ if sandbox => Some(BankAccount {
                bin: "970436".into(),
                number: "1017595600".into(),
                name: "SAN OCOP THU NGHIEM".into(),
            }),
            _ => None,
        };
        let vnpay = match (
            or_test(&c.vnpay_tmn_code, "OCOPTEST"),
            or_test(&c.vnpay_hash_secret, SANDBOX_VNPAY_SECRET),
        ) {
            (Some(tmn_code), Some(secret)) => Some(Vnpay {
                tmn_code,
                secret,
                url: c.vnpay_url.clone().unwrap_or_else(|| {
                    if sandbox {
                        format!("{public}/sandbox/vnpay")
                    } else {
                        "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html".into()
                    }
                }),
                api_url: c.vnpay_api_url.clone().unwrap_or_else(|| {
                    if sandbox {
                        format!("{local}/sandbox/vnpay/merchant_webapi/api/transaction")
                    } else {
                        "https://sandbox.vnpayment.vn/merchant_webapi/api/transaction".into()
                    }
                }),
            }),
            _ => None,
        };
        let momo = match (
            or_test(&c.momo_partner_code, "MOMOTEST"),
            or_test(&c.momo_access_key, "ACCESSKEYTEST"),
            or_test(&c.momo_secret_key, SANDBOX_MOMO_SECRET),
        ) {
            (Some(partner_code), Some(access_key), Some(secret_key)) => Some(Momo {
                partner_code,
                access_key,
                secret_key,
                endpoint: c.momo_endpoint.clone().unwrap_or_else(|| {
                    if sandbox {
                        format!("{local}/sandbox/momo")
                    } else {
                        "https://test-payment.momo.vn".into()
                    }
                }),
            }),
            _ => None,
        };
        let stripe = match (
            or_test(&c.stripe_secret_key, "sk_test_sandbox"),
            or_test(&c.stripe_webhook_secret, SANDBOX_STRIPE_WEBHOOK_SECRET),
        ) {
            (Some(secret_key), Some(webhook_secret)) => Some(Stripe {
                secret_key,
                webhook_secret,
                // the client appends "v1/…" to this, so it ends with a slash
                api_url: format!(
                    "{}/",
                    c.stripe_api_url
                        .clone()
                        .unwrap_or_else(|| if sandbox {
                            format!("{local}/sandbox/stripe")
                        } else {
                            "https://api.stripe.com".into()
                        })
                        .trim_end_matches('/')
                ),
            }),
            _ => None,
        };
        Providers {
            sandbox,
            bank,
            sepay_api_key: or_test(&c.sepay_api_key, SANDBOX_SEPAY_API_KEY),
            sepay_secret: or_test(&c.sepay_webhook_secret, SANDBOX_SEPAY_SECRET),
            casso_key: or_test(&c.casso_checksum_key, SANDBOX_CASSO_KEY),
            vnpay,
            momo,
            stripe,
            reconcile_after: std::time::Duration::from_secs(
                c.reconcile_after_secs
                    .unwrap_or(if sandbox { 60 } else { 300 }),
            ),
        }
    }

    /// Every provider with the sandbox's test secrets (for the fuzz targets and tests).
    pub fn sandbox_defaults() -> Providers {
        Providers {
            sandbox: true,
            bank: Some(BankAccount {
                bin: "970436".into(),
                number: "1017595600".into(),
                name: "SAN OCOP THU NGHIEM".into(),
            }),
            sepay_api_key: Some(SANDBOX_SEPAY_API_KEY.into()),
            sepay_secret: Some(SANDBOX_SEPAY_SECRET.into()),
            casso_key: Some(SANDBOX_CASSO_KEY.into()),
            vnpay: Some(Vnpay {
                tmn_code: "OCOPTEST".into(),
                secret: SANDBOX_VNPAY_SECRET.into(),
                url: "http://127.0.0.1/sandbox/vnpay".into(),
                api_url: "http://127.0.0.1/sandbox/vnpay/merchant_webapi/api/transaction".into(),
            }),
            momo: Some(Momo {
                partner_code: "MOMOTEST".into(),
                access_key: "ACCESSKEYTEST".into(),
                secret_key: SANDBOX_MOMO_SECRET.into(),
                endpoint: "http://127.0.0.1/sandbox/momo".into(),
            }),
            stripe: Some(Stripe {
                secret_key: "sk_test_sandbox".into(),
                webhook_secret: SANDBOX_STRIPE_WEBHOOK_SECRET.into(),
                api_url: "http://127.0.0.1/sandbox/stripe/".into(),
            }),
            reconcile_after: std::time::Duration::from_secs(60),
        }
    }

    /// The methods a shopper can choose: cash always, the others when configured.
    pub fn enabled(&self) -> Vec<PaymentMethod> {
        let mut m = vec![];
        if self.bank.is_some() {
            m.push(PaymentMethod::Vietqr);
        }
        if self.vnpay.is_some() {
            m.push(PaymentMethod::Vnpay);
        }
        if self.momo.is_some() {
            m.push(PaymentMethod::Momo);
        }
        if self.stripe.is_some() {
            m.push(PaymentMethod::Card);
        }
        m.push(PaymentMethod::Cod);
        m
    }
}
