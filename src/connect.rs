//! Zenoh sessions of the daemon's own tools (`iapzd demo`'s simulated feeds, `iapzd watch`,
//! the load benchmark): a peer that connects to one endpoint and listens on none, so that a
//! tool reaches exactly the daemon (or router) it is pointed at and nothing else.

use anyhow::{Result, anyhow};
use std::time::{Duration, Instant};
use zenoh::matching::MatchingStatus;

/// The configuration of a session that connects to `endpoint` (e.g. `tcp/127.0.0.1:7447`),
/// with scouting off and no listening endpoint of its own: the adapters' client session.
pub fn client_config(endpoint: &str) -> Result<zenoh::Config> {
    iapz_adapters::live::session::client_config(&[endpoint.to_string()])
}

/// Opens a session connected to `endpoint` (see [`client_config`]).
pub async fn open(endpoint: &str) -> Result<zenoh::Session> {
    zenoh::open(client_config(endpoint)?)
        .await
        .map_err(|e| anyhow!("connecting to {endpoint}: {e}"))
}

/// The endpoint a tool on this machine should connect to for a daemon run with `cfg`: the
/// first endpoint it listens on (a wildcard host becomes 127.0.0.1), else the first one it
/// connects to (a router that tools can reach too), else the default peer endpoint.
pub fn endpoint_of(cfg: &crate::config::Config) -> String {
    let first = |path: [&str; 2]| -> Option<String> {
        let table = cfg.zenoh.as_ref()?;
        let list = table.get(path[0])?.get(path[1])?.as_array()?;
        list.first()?.as_str().map(str::to_string)
    };
    if let Some(listen) = first(["listen", "endpoints"]) {
        return listen
            .replace("0.0.0.0", "127.0.0.1")
            .replace("[::]", "[::1]");
    }
    first(["connect", "endpoints"])
        .unwrap_or_else(|| crate::config::DEFAULT_ZENOH_ENDPOINT.to_string())
}

/// Waits until `status()` (a publisher's or querier's `matching_status()`) reports that the
/// other side (a subscriber, a queryable) is reachable, for up to `patience`. `false` when it
/// never did: declarations take a few ms to propagate, so tools wait rather than lose data.
pub async fn matched<F, Fut>(patience: Duration, mut status: F) -> Result<bool>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = zenoh::Result<MatchingStatus>>,
{
    let started = Instant::now();
    loop {
        if status().await.map_err(|e| anyhow!("{e}"))?.matching() {
            return Ok(true);
        }
        if started.elapsed() > patience {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
