//! Outgoing mail, through one interface: SMTP (lettre) when SMTP_URL is set; otherwise, in
//! development, messages are written to MAIL_DIR as .eml files and the first link is logged, so a
//! person can click through a password reset with no mail server.

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Clone)]
pub enum Mailer {
    /// writes each message to this folder
    Folder(PathBuf),
    /// sends through an SMTP server (pooled connections, TLS as the URL says)
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
}

impl Mailer {
    /// SMTP when `smtp_url` is given, the folder otherwise. A malformed URL or sender is an error
    /// at start-up rather than a lost message later.
    pub fn from_config(config: &crate::config::Config) -> Result<Mailer, String> {
        match &config.smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| {
                        format!("SMTP_URL {} is not usable: {e}", crate::config::redact(url))
                    })?
                    .build();
                let from = config
                    .mail_from
                    .parse()
                    .map_err(|e| format!("MAIL_FROM is not an address: {e}"))?;
                Ok(Mailer::Smtp { transport, from })
            }
            None => Ok(Mailer::Folder(config.mail_dir.clone())),
        }
    }

    pub async fn send(&self, message: &Message) -> Result<(), String> {
        match self {
            Mailer::Smtp { transport, from } => {
                let to: Mailbox = message
                    .to
                    .parse()
                    .map_err(|e| format!("not a mail address: {e}"))?;
                let email = lettre::Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(&message.subject)
                    .header(lettre::message::header::ContentType::TEXT_PLAIN)
                    .body(message.body.clone())
                    .map_err(|e| format!("building mail: {e}"))?;
                transport
                    .send(email)
                    .await
                    .map_err(|e| format!("SMTP: {e}"))?;
                Ok(())
            }
            Mailer::Folder(dir) => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| format!("mail folder {}: {e}", dir.display()))?;
                let name = format!(
                    "{}-{}.eml",
                    time::OffsetDateTime::now_utc().unix_timestamp_nanos(),
                    crate::crypto::random_token()[..8].to_owned()
                );
                let eml = format!(
                    "To: {}\r\nSubject: =?UTF-8?B?{}?=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
                    message.to,
                    base64_utf8(&message.subject),
                    message.body
                );
                tokio::fs::write(dir.join(&name), eml)
                    .await
                    .map_err(|e| format!("writing mail: {e}"))?;
                // the link is what a developer needs; the address is not logged in full
                let link = message
                    .body
                    .split_whitespace()
                    .find(|w| w.starts_with("http"));
                tracing::info!(mail.file = %dir.join(&name).display(), mail.link = link.unwrap_or(""), "mail written to folder");
                Ok(())
            }
        }
    }
}

impl Mailer {
    /// Sends a notification; a mail that cannot go out is logged and never fails the action that
    /// caused it.
    pub async fn notify(&self, to: Option<&str>, subject: &str, body: String) {
        let Some(to) = to.filter(|t| t.contains('@')) else {
            return;
        };
        let message = Message {
            to: to.to_string(),
            subject: subject.to_string(),
            body,
        };
        if let Err(e) = self.send(&message).await {
            tracing::warn!(error = %e, subject, "notification mail not sent");
        }
    }
}

/// RFC 2047 needs base64 for a non-ASCII subject; a few lines rather than a dependency.
fn base64_utf8(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn subjects_are_base64_encoded() {
        assert_eq!(super::base64_utf8("Man"), "TWFu");
        assert_eq!(super::base64_utf8("Ma"), "TWE=");
        assert_eq!(super::base64_utf8("Đặt lại"), "xJDhurd0IGzhuqFp");
    }
}
