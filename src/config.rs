//! One configuration, read once from the environment (or flags), with defaults that work where
//! Postgres and Redis run locally.

use clap::Args;
use std::net::SocketAddr;

#[derive(Args, Clone, Debug)]
pub struct Config {
    /// Postgres connection string; the database is created if it does not exist.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/ocop"
    )]
    pub database_url: String,
    /// Redis connection string (sessions, carts).
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
    /// Address to listen on.
    #[arg(long, env = "BIND", default_value = "127.0.0.1:3000")]
    pub bind: SocketAddr,
    /// The address shoppers reach the marketplace at; QR codes on packaging point here.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Largest number of Postgres connections this instance opens.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,
    /// Meilisearch, when configured; search runs on Postgres otherwise (and falls back to it).
    #[arg(long, env = "MEILI_URL")]
    pub meili_url: Option<String>,
    /// Meilisearch master (or admin) key. Never logged.
    #[arg(long, env = "MEILI_MASTER_KEY", hide_env_values = true)]
    pub meili_master_key: Option<String>,
    /// Name of the products index in Meilisearch.
    #[arg(long, env = "MEILI_INDEX", default_value = "products")]
    pub meili_index: String,
    /// Where outgoing mail is written when no SMTP server is configured (development).
    #[arg(long, env = "MAIL_DIR", default_value = "target/mail")]
    pub mail_dir: std::path::PathBuf,
    /// SMTP server for outgoing mail, e.g. `smtps://user:pass@smtp.example.vn` or
    /// `smtp://relay:25?tls=required`. Never logged.
    #[arg(long, env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of outgoing mail.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "Sàn OCOP <no-reply@ocop.local>"
    )]
    pub mail_from: String,
    /// Uploaded product pictures (served under /media) and certificate scans (never served
    /// directly). Several instances must share it (a network folder).
    #[arg(long, env = "MEDIA_DIR", default_value = "target/media")]
    pub media_dir: std::path::PathBuf,
    /// Signs cart cookies (32+ characters). Unset: a random key kept in Redis, shared by all
    /// instances. Never logged.
    #[arg(long, env = "SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Shipping fee when the producer and the buyer are in the same province, VND.
    #[arg(long, env = "SHIPPING_SAME_PROVINCE_VND", default_value_t = 20_000)]
    pub shipping_same_province_vnd: i64,
    /// Shipping fee between provinces, VND.
    #[arg(long, env = "SHIPPING_OTHER_PROVINCE_VND", default_value_t = 35_000)]
    pub shipping_other_province_vnd: i64,
    /// A producer's part of an order ships free from this many VND (0: never free).
    #[arg(long, env = "SHIPPING_FREE_FROM_VND", default_value_t = 500_000)]
    pub shipping_free_from_vnd: i64,
    /// Minutes an order waiting for an online payment keeps its stock.
    #[arg(long, env = "ORDER_PAYMENT_MINUTES", default_value_t = 30)]
    pub order_payment_minutes: i64,
    /// Local simulated payment pages for every provider, signing callbacks with the test
    /// secrets below: the whole payment journey works offline. On for the demo.
    #[arg(long, env = "PAYMENT_SANDBOX", default_value_t = false, value_parser = clap::builder::BoolishValueParser::new())]
    pub payment_sandbox: bool,
    /// The account that receives VietQR bank transfers: bank BIN (6 digits), number, holder.
    #[arg(long, env = "VIETQR_BANK_BIN")]
    pub vietqr_bank_bin: Option<String>,
    #[arg(long, env = "VIETQR_ACCOUNT_NO")]
    pub vietqr_account_no: Option<String>,
    #[arg(long, env = "VIETQR_ACCOUNT_NAME")]
    pub vietqr_account_name: Option<String>,
    /// SePay webhook authentication: `Authorization: Apikey …` and/or HMAC-SHA256 secret.
    #[arg(long, env = "SEPAY_API_KEY", hide_env_values = true)]
    pub sepay_api_key: Option<String>,
    #[arg(long, env = "SEPAY_WEBHOOK_SECRET", hide_env_values = true)]
    pub sepay_webhook_secret: Option<String>,
    /// Casso webhook v2 checksum key.
    #[arg(long, env = "CASSO_CHECKSUM_KEY", hide_env_values = true)]
    pub casso_checksum_key: Option<String>,
    /// VNPAY merchant terminal code, hash secret and payment URL.
    #[arg(long, env = "VNPAY_TMN_CODE")]
    pub vnpay_tmn_code: Option<String>,
    #[arg(long, env = "VNPAY_HASH_SECRET", hide_env_values = true)]
    pub vnpay_hash_secret: Option<String>,
    #[arg(long, env = "VNPAY_URL")]
    pub vnpay_url: Option<String>,
    /// VNPAY's merchant API (querydr), asked about payments whose IPN did not arrive.
    #[arg(long, env = "VNPAY_API_URL")]
    pub vnpay_api_url: Option<String>,
    /// MoMo partner code, access key, secret key and API endpoint.
    #[arg(long, env = "MOMO_PARTNER_CODE")]
    pub momo_partner_code: Option<String>,
    #[arg(long, env = "MOMO_ACCESS_KEY", hide_env_values = true)]
    pub momo_access_key: Option<String>,
    #[arg(long, env = "MOMO_SECRET_KEY", hide_env_values = true)]
    pub momo_secret_key: Option<String>,
    #[arg(long, env = "MOMO_ENDPOINT")]
    pub momo_endpoint: Option<String>,
    /// Stripe secret key, webhook signing secret and API base URL.
    #[arg(long, env = "STRIPE_SECRET_KEY", hide_env_values = true)]
    pub stripe_secret_key: Option<String>,
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    pub stripe_webhook_secret: Option<String>,
    #[arg(long, env = "STRIPE_API_URL")]
    pub stripe_api_url: Option<String>,
    /// Seconds an online payment may stay unconfirmed before its provider is asked about it
    /// (default 300; 60 in sandbox mode, so a person trying the flow does not wait long).
    #[arg(long, env = "RECONCILE_AFTER_SECS")]
    pub reconcile_after_secs: Option<u64>,
    /// The sandbox carrier: a local stand-in a person clicks through (picked up, delivered,
    /// failed, returned, cash remitted), sending the webhooks a carrier would. On for the demo.
    #[arg(long, env = "SHIPPING_SANDBOX", default_value_t = false, value_parser = clap::builder::BoolishValueParser::new())]
    pub shipping_sandbox: bool,
    /// GHN: API token, shop id and base URL (staging: https://dev-online-gateway.ghn.vn/shiip/public-api).
    #[arg(long, env = "GHN_TOKEN", hide_env_values = true)]
    pub ghn_token: Option<String>,
    #[arg(long, env = "GHN_SHOP_ID")]
    pub ghn_shop_id: Option<String>,
    #[arg(
        long,
        env = "GHN_URL",
        default_value = "https://online-gateway.ghn.vn/shiip/public-api"
    )]
    pub ghn_url: String,
    /// GHTK: API token, partner code (`X-Client-Source`) and base URL.
    #[arg(long, env = "GHTK_TOKEN", hide_env_values = true)]
    pub ghtk_token: Option<String>,
    #[arg(long, env = "GHTK_CLIENT_SOURCE")]
    pub ghtk_client_source: Option<String>,
    #[arg(
        long,
        env = "GHTK_URL",
        default_value = "https://services.giaohangtietkiem.vn"
    )]
    pub ghtk_url: String,
    /// Viettel Post: partner login, base URL, label print page, and the webhook's shared token.
    #[arg(long, env = "VTP_USERNAME")]
    pub vtp_username: Option<String>,
    #[arg(long, env = "VTP_PASSWORD", hide_env_values = true)]
    pub vtp_password: Option<String>,
    #[arg(
        long,
        env = "VTP_URL",
        default_value = "https://partner.viettelpost.vn"
    )]
    pub vtp_url: String,
    #[arg(
        long,
        env = "VTP_PRINT_URL",
        default_value = "https://digitalize.viettelpost.vn/DigitalizePrint/report.do"
    )]
    pub vtp_print_url: String,
    #[arg(long, env = "VTP_WEBHOOK_TOKEN", hide_env_values = true)]
    pub vtp_webhook_token: Option<String>,
    /// The whole budget for asking every carrier's fee at checkout, in milliseconds; a carrier
    /// slower than this is left out and the flat table applies if none answers.
    #[arg(long, env = "QUOTE_TIMEOUT_MS", default_value_t = 2000)]
    pub quote_timeout_ms: u64,
    /// Compute the dashboards from the orders on every request instead of the sales rollups
    /// (for the benchmark that shows what the rollups are worth; slow at national scale).
    #[arg(long, env = "STATS_FROM_ORDERS", default_value_t = false, value_parser = clap::builder::BoolishValueParser::new())]
    pub stats_from_orders: bool,
    /// Behind a load balancer that sets X-Forwarded-For: rate limits count by that address.
    #[arg(long, env = "TRUST_PROXY", default_value_t = false, value_parser = clap::builder::BoolishValueParser::new())]
    pub trust_proxy: bool,
    /// When set, `/metrics` answers only `Authorization: Bearer <this>`.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Days a refused provider callback (bad signature, unreadable) is kept before it is purged;
    /// accepted callbacks are kept forever.
    #[arg(long, env = "REFUSED_EVENT_DAYS", default_value_t = 30)]
    pub refused_event_days: u32,
    /// Cart changes (add, update, remove) one client address may make per minute.
    #[arg(long, env = "CART_WRITES_PER_MINUTE", default_value_t = 120)]
    pub cart_writes_per_minute: u32,
    /// Memory for rendered pages and API answers of the current catalog snapshot, in MiB (per
    /// language and address; refilled as asked).
    #[arg(long, env = "PAGE_CACHE_MB", default_value_t = 64)]
    pub page_cache_mb: usize,
    /// Memory for search matches (Postgres) and answers (Meilisearch), in MiB each.
    #[arg(long, env = "SEARCH_MEMO_MB", default_value_t = 64)]
    pub search_memo_mb: usize,
    /// Memory for facet counts per filter combination, in MiB.
    #[arg(long, env = "COUNTS_MEMO_MB", default_value_t = 16)]
    pub counts_memo_mb: usize,
    /// Web origins whose pages may read the open catalog API (`GET /api/v1/products…`,
    /// provinces, search) from a browser: a comma-separated list ("https://dulich.quangninh.gov.vn")
    /// or `*`. Empty: none (servers and apps are not browsers and need nothing).
    #[arg(long, env = "CORS_ORIGINS", default_value = "")]
    pub cors_origins: String,
    /// The hotline shoppers call, shown on the contact page and in the footer's contact link.
    #[arg(long, env = "SUPPORT_PHONE")]
    pub support_phone: Option<String>,
    /// The address shoppers write to about orders and returns.
    #[arg(long, env = "SUPPORT_EMAIL")]
    pub support_email: Option<String>,
    /// Seals producers' e-invoice credentials at rest: 64 hex characters (32 bytes). Without it
    /// producers cannot connect an e-invoice account. Changing it means they save theirs again.
    #[arg(long, env = "INVOICE_KEY", hide_env_values = true)]
    pub invoice_key: Option<String>,
    /// Offers the sandbox e-invoice provider (offline, for trials and tests).
    #[arg(long, env = "INVOICE_SANDBOX", default_value_t = false, value_parser = clap::builder::BoolishValueParser::new())]
    pub invoice_sandbox: bool,
    /// The marketplace's legal name, tax code and address, printed on every receipt.
    #[arg(
        long,
        env = "MARKET_LEGAL_NAME",
        default_value = "Sàn thương mại điện tử sản phẩm OCOP"
    )]
    pub market_legal_name: String,
    #[arg(long, env = "MARKET_TAX_CODE")]
    pub market_tax_code: Option<String>,
    #[arg(long, env = "MARKET_ADDRESS", default_value = "")]
    pub market_address: String,
    /// The marketplace's own e-invoice account, for its monthly commission invoices to each
    /// producer: `vnpt`, `viettel`, `misa` or `sandbox`, with its template (pattern), series and
    /// login. Unset: no commission invoices.
    #[arg(long, env = "MARKET_EINVOICE_PROVIDER")]
    pub market_einvoice_provider: Option<String>,
    #[arg(long, env = "MARKET_EINVOICE_URL", default_value = "")]
    pub market_einvoice_url: String,
    #[arg(long, env = "MARKET_EINVOICE_PATTERN", default_value = "1/001")]
    pub market_einvoice_pattern: String,
    #[arg(long, env = "MARKET_EINVOICE_SERIES", default_value = "")]
    pub market_einvoice_series: String,
    #[arg(long, env = "MARKET_EINVOICE_USERNAME", default_value = "")]
    pub market_einvoice_username: String,
    #[arg(
        long,
        env = "MARKET_EINVOICE_PASSWORD",
        hide_env_values = true,
        default_value = ""
    )]
    pub market_einvoice_password: String,
    /// MISA's application id; VNPT's web-service account and its password.
    #[arg(long, env = "MARKET_EINVOICE_APP_ID", default_value = "")]
    pub market_einvoice_app_id: String,
    #[arg(long, env = "MARKET_EINVOICE_ACCOUNT", default_value = "")]
    pub market_einvoice_account: String,
    #[arg(
        long,
        env = "MARKET_EINVOICE_ACCOUNT_PASSWORD",
        hide_env_values = true,
        default_value = ""
    )]
    pub market_einvoice_account_password: String,
    /// VAT on the marketplace's service, percent (included in the commission charged).
    #[arg(long, env = "MARKET_EINVOICE_VAT_RATE", default_value_t = 10)]
    pub market_einvoice_vat_rate: u8,
    /// `json` for structured logs, anything else for human-readable ones.
    #[arg(long, env = "LOG_FORMAT", default_value = "text")]
    pub log_format: String,
}

impl Config {
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.bind),
        }
    }

    /// A short tag of this marketplace's database, in every Redis key that names a person or
    /// counts for one (sessions, carts, one-time links, rate counters), so marketplaces sharing one
    /// Redis (a province's staging beside production, the test suite) never read each other's:
    /// a staging session is nobody in production.
    pub fn redis_namespace(&self) -> String {
        crate::crypto::sha256_hex(self.database_url.as_bytes())[..8].to_string()
    }

    /// The names of the provider secrets that are configured (never their values).
    pub fn real_provider_secrets(&self) -> Vec<&'static str> {
        [
            ("SEPAY_API_KEY", &self.sepay_api_key),
            ("SEPAY_WEBHOOK_SECRET", &self.sepay_webhook_secret),
            ("CASSO_CHECKSUM_KEY", &self.casso_checksum_key),
            ("VNPAY_HASH_SECRET", &self.vnpay_hash_secret),
            ("MOMO_SECRET_KEY", &self.momo_secret_key),
            ("STRIPE_SECRET_KEY", &self.stripe_secret_key),
            ("STRIPE_WEBHOOK_SECRET", &self.stripe_webhook_secret),
        ]
        .into_iter()
        .filter(|(_, v)| v.as_deref().is_some_and(|v| !v.is_empty()))
        .map(|(name, _)| name)
        .collect()
    }

    /// The connection string with any password replaced, safe to print.
    pub fn redacted_database_url(&self) -> String {
        redact(&self.database_url)
    }
}

pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_the_logs() {
        assert_eq!(
            super::redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
