//! `ocop-market`: serve, seed, import. Configuration comes from the environment.

use clap::{Parser, Subcommand};
use ocop_market::app::{Application, shutdown_signal};
use ocop_market::config::Config;
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc: per-thread free lists, no global consolidation pauses (rendering a page allocates
/// thousands of small strings).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "ocop-market", version, about = "Sàn thương mại sản phẩm OCOP")]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply migrations and serve the marketplace on BIND.
    Serve,
    /// Load the demo catalog (idempotent) and serve: what the Quickstart runs.
    Demo,
    /// Load a catalog: `--demo` for the demo shop, `--scale N` for N synthetic products; with
    /// `--orders M`, a sales history of M orders over three years on top (resumable).
    Seed {
        #[arg(long, conflicts_with = "scale")]
        demo: bool,
        #[arg(long, value_name = "N")]
        scale: Option<u32>,
        #[arg(long, value_name = "M")]
        orders: Option<i64>,
    },
    /// Rebuild the dashboards' sales rollups from the orders.
    RebuildStats,
    /// Import a province's OCOP list from a .csv or .xlsx file.
    Import { file: PathBuf },
    /// Create the first admin (or promote an existing account). The password comes from
    /// ADMIN_PASSWORD or, when that is unset, from the first line of standard input.
    CreateAdmin {
        /// email or Vietnamese mobile number to sign in with
        #[arg(long)]
        login: String,
        #[arg(long, default_value = "Quản trị viên")]
        name: String,
    },
    /// Rebuild the Meilisearch index from Postgres into a fresh index and swap it in (no downtime).
    Reindex,
    /// Fill where each configured carrier places our communes, from its master data (also weekly).
    SyncCarrierPlaces,
    /// Compare the catalog with the national OCOP registry's product JSON (a file, or the list's
    /// address, whose pages are followed) and record what differs for staff (`/staff/registry`).
    RegistrySync { source: String },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.config.log_format);
    match run(cli).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("ocop-market: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, String> {
    let config = cli.config;
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Demo => {
            // the demo pays offline: simulated provider pages that sign real callbacks
            let mut config = config;
            config.payment_sandbox = true;
            config.shipping_sandbox = true;
            config.invoice_sandbox = true;
            if config.invoice_key.is_none() {
                // a fixed key, so invoice accounts saved in the demo open after a restart;
                // never for real credentials
                config.invoice_key = Some("de".repeat(32));
            }
            if config.market_einvoice_provider.is_none() {
                // the marketplace's commission invoices go to the sandbox provider too
                config.market_einvoice_provider = Some("sandbox".into());
                config.market_einvoice_series = "C26TMK".into();
                config.market_einvoice_username = "san-ocop".into();
                config.market_einvoice_password = "sandbox".into();
                config
                    .market_tax_code
                    .get_or_insert_with(|| "0123456787".into());
            }
            let pool = pool(&config).await?;
            let summary = ocop_market::seed::demo(&pool)
                .await
                .map_err(|e| format!("seeding failed: {e}"))?;
            eprintln!("{summary}");
            // a sales history, so the dashboards have something to show
            let history = ocop_market::seed::orders::orders(&pool, DEMO_ORDERS, |_, _| {})
                .await
                .map_err(|e| format!("seeding orders failed: {e}"))?;
            eprintln!("{history}");
            ocop_market::seed::demo_extras(&pool)
                .await
                .map_err(|e| format!("demo reviews: {e}"))?;
            let accounts = ocop_market::seed::demo_accounts(&pool)
                .await
                .map_err(|e| format!("demo accounts: {e}"))?;
            eprintln!(
                "Tài khoản dùng thử (mật khẩu {}):",
                ocop_market::seed::DEMO_PASSWORD
            );
            for (name, login) in accounts {
                eprintln!("  {name}: {login}");
            }
            if !config.bind.ip().is_loopback() {
                eprintln!(
                    "\n!!! CẢNH BÁO / WARNING: the demo listens on {} with the published password above (admin included) and the payment sandbox on. Anyone who reaches this address can sign in as admin. Use `serve` for anything but a trial on your own machine.\n",
                    config.bind
                );
            }
            serve(config).await
        }
        Command::Seed {
            demo,
            scale,
            orders,
        } => {
            let pool = pool(&config).await?;
            let summary = match (demo, scale) {
                (_, Some(n)) => Some(ocop_market::seed::scale(&pool, n).await),
                (true, None) => Some(ocop_market::seed::demo(&pool).await),
                (false, None) if orders.is_some() => None,
                (false, None) => {
                    return Err("say what to seed: --demo, --scale N and/or --orders M".into());
                }
            };
            if let Some(summary) = summary {
                eprintln!("{}", summary.map_err(|e| format!("seeding failed: {e}"))?);
            }
            if let Some(m) = orders {
                let started = std::time::Instant::now();
                let summary = ocop_market::seed::orders::orders(&pool, m, |done, all| {
                    let secs = started.elapsed().as_secs_f64();
                    eprintln!(
                        "seed: {done} of {all} orders ({:.0}/s)",
                        done as f64 / secs.max(0.001)
                    );
                })
                .await
                .map_err(|e| format!("seeding orders failed: {e}"))?;
                eprintln!("{summary}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::RebuildStats => {
            let pool = pool(&config).await?;
            let started = std::time::Instant::now();
            let moved = ocop_market::stats::rebuild(&pool)
                .await
                .map_err(|e| format!("rebuild failed: {e}"))?;
            eprintln!(
                "stats: rollups rebuilt from {moved} facts in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::SyncCarrierPlaces => {
            let app = ocop_market::app::Application::build(config)
                .await
                .map_err(|e| e.to_string())?;
            let state = app.state().clone();
            let mut failed = false;
            for carrier in [
                ocop_market::shipping::CarrierId::Ghn,
                ocop_market::shipping::CarrierId::Ghtk,
                ocop_market::shipping::CarrierId::Viettelpost,
            ] {
                if !state.carriers.configured(carrier) {
                    eprintln!("{}: not configured, skipped", carrier.name());
                    continue;
                }
                match ocop_market::shipping::places::sync(&state, carrier).await {
                    Ok(r) => eprintln!(
                        "{}: {} communes placed, {} not (the producer is told at booking)",
                        carrier.name(),
                        r.matched,
                        r.missing
                    ),
                    Err(e) => {
                        failed = true;
                        eprintln!("{}: {e}", carrier.name());
                    }
                }
            }
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Reindex => {
            let Some(url) = config.meili_url.as_deref() else {
                return Err(
                    "reindex needs Meilisearch: set MEILI_URL (and MEILI_MASTER_KEY)".into(),
                );
            };
            let pool = pool(&config).await?;
            let meili = ocop_market::search::MeiliSearch::new(
                url,
                config.meili_master_key.as_deref(),
                &config.meili_index,
            )
            .map_err(|e| e.to_string())?;
            let started = std::time::Instant::now();
            let bar = indicatif::ProgressBar::new(0);
            let count = meili
                .rebuild(&pool, &bar)
                .await
                .map_err(|e| format!("reindex failed: {e}"))?;
            bar.finish_and_clear();
            eprintln!(
                "reindex: {count} products indexed into {} in {:.1}s",
                meili.index_name(),
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::CreateAdmin { login, name } => {
            let password = match std::env::var("ADMIN_PASSWORD") {
                Ok(p) if !p.is_empty() => Some(p),
                _ => {
                    eprint!("Password for {login} (leave empty to keep an existing one): ");
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .map_err(|e| format!("reading the password: {e}"))?;
                    let line = line.trim_end_matches(['\r', '\n']).to_string();
                    (!line.is_empty()).then_some(line)
                }
            };
            let pool = pool(&config).await?;
            let outcome =
                ocop_market::staff::create_admin(&pool, &login, &name, password.as_deref()).await?;
            eprintln!("{outcome}");
            Ok(ExitCode::SUCCESS)
        }
        Command::RegistrySync { source } => {
            let pool = pool(&config).await?;
            let records = ocop_market::registry::read(&source).await?;
            let summary = ocop_market::registry::sync(&pool, &source, &records)
                .await
                .map_err(|e| format!("registry sync failed: {e}"))?;
            eprintln!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { file } => {
            let pool = pool(&config).await?;
            let report = ocop_market::import::import_file(&pool, &file, true)
                .await
                .map_err(|e| e.to_string())?;
            for problem in &report.problems {
                eprintln!("{problem}");
            }
            eprintln!("{}", report.summary());
            Ok(if report.failed > 0 {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// Orders over three years in the demo: enough for every dashboard table and chart to speak.
const DEMO_ORDERS: i64 = 20_000;

async fn pool(config: &Config) -> Result<sqlx::PgPool, String> {
    let pool = ocop_market::db::connect(&config.database_url, 4)
        .await
        .map_err(|e| e.to_string())?;
    ocop_market::db::migrate(&pool)
        .await
        .map_err(|e| e.to_string())?;
    Ok(pool)
}

async fn serve(config: Config) -> Result<ExitCode, String> {
    let db = config.redacted_database_url();
    let json_logs = config.log_format == "json";
    let app = Application::build(config)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(http.addr = %app.local_addr(), db.url = %db, "serving the OCOP marketplace");
    // a line for people; log collectors reading JSON get only JSON
    if !json_logs {
        eprintln!("Sàn OCOP đang chạy: http://{}", app.local_addr());
    }
    app.run(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

fn init_tracing(format: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
