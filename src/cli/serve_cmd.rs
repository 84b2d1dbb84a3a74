//! `gridsweep serve`: parses, opens the database read-only, binds, prints where, and
//! hands over to `crate::serve`.

use super::sweep_cmd::{runtime, DbArg};
use super::Outcome;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// Address and port to listen on. Loopback (the default) serves this machine only;
    /// any other address needs a token.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// The token every request must carry (`?token=` or `Authorization: Bearer`); made
    /// up and printed when the address is not loopback and none is given.
    #[arg(long)]
    pub token: Option<String>,
}

pub fn serve(a: ServeArgs) -> Result<Outcome> {
    let token = match (&a.token, crate::serve::needs_token(&a.bind)) {
        (Some(t), _) if t.trim().is_empty() => bail!("--token: expected a non-empty token"),
        (Some(t), _) => Some(t.clone()),
        (None, true) => Some(crate::serve::make_token()),
        (None, false) => None,
    };
    let rt = runtime()?;
    rt.block_on(async {
        let store = crate::store::Store::open_read_only(&a.db.db).await?;
        let listener = tokio::net::TcpListener::bind(a.bind)
            .await
            .with_context(|| format!("--bind {}: cannot listen there", a.bind))?;
        let at = listener.local_addr()?;
        let stop = crate::serve::Stop::listen().context("listening for Ctrl-C")?;
        let query = token
            .as_deref()
            .map(|t| format!("?token={t}"))
            .unwrap_or_default();
        println!(
            "gridsweep serve: http://{at}/{query} — a read-only view of {} (Ctrl-C stops)",
            store.name()
        );
        crate::serve::serve(
            listener,
            Arc::new(crate::serve::App::new(store, token)),
            stop,
        )
        .await
        .context("serving")?;
        anyhow::Ok(())
    })?;
    Ok(Outcome::Ok)
}
