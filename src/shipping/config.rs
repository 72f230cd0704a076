//! The carriers' accounts, read once from the configuration (tokens never logged: no `Debug`).

use super::carriers::CarrierId;
use std::time::Duration;

#[derive(Clone)]
pub struct Ghn {
    pub token: String,
    pub shop_id: String,
    pub url: String,
}

#[derive(Clone)]
pub struct Ghtk {
    pub token: String,
    pub client_source: String,
    pub url: String,
}

#[derive(Clone)]
pub struct Vtp {
    pub username: String,
    pub password: String,
    pub url: String,
    pub print_url: String,
    pub webhook_token: Option<String>,
}

/// Which carriers this marketplace has accounts with; provinces choose among them.
#[derive(Clone)]
pub struct Carriers {
    pub sandbox: bool,
    pub ghn: Option<Ghn>,
    pub ghtk: Option<Ghtk>,
    pub vtp: Option<Vtp>,
    /// the whole budget for the quotes at checkout
    pub quote_budget: Duration,
}

impl Carriers {
    pub fn from_config(c: &crate::config::Config) -> Carriers {
        let some = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        Carriers {
            sandbox: c.shipping_sandbox,
            ghn: match (some(&c.ghn_token), some(&c.ghn_shop_id)) {
                (Some(token), Some(shop_id)) => Some(Ghn {
                    token,
                    shop_id,
                    url: c.ghn_url.trim_end_matches('/').to_string(),
                }),
                _ => None,
            },
            ghtk: some(&c.ghtk_token).map(|token| Ghtk {
                token,
                client_source: c.ghtk_client_source.clone().unwrap_or_default(),
                url: c.ghtk_url.trim_end_matches('/').to_string(),
            }),
            vtp: match (some(&c.vtp_username), some(&c.vtp_password)) {
                (Some(username), Some(password)) => Some(Vtp {
                    username,
                    password,
                    url: c.vtp_url.trim_end_matches('/').to_string(),
                    print_url: c.vtp_print_url.clone(),
                    webhook_token: some(&c.vtp_webhook_token),
                }),
                _ => None,
            },
            quote_budget: Duration::from_millis(c.quote_timeout_ms.clamp(100, 10_000)),
        }
    }

    /// Whether this marketplace can use `carrier` at all.
    pub fn configured(&self, carrier: CarrierId) -> bool {
        match carrier {
            CarrierId::Ghn => self.ghn.is_some(),
            CarrierId::Ghtk => self.ghtk.is_some(),
            CarrierId::Viettelpost => self.vtp.is_some(),
            CarrierId::Sandbox => self.sandbox,
        }
    }

    pub fn available(&self) -> Vec<CarrierId> {
        CarrierId::ALL
            .into_iter()
            .filter(|c| self.configured(*c))
            .collect()
    }
}
