//! What every adapter needs from Zenoh: a client session and the run epoch.

use anyhow::{Context, Result, anyhow, bail};
use iapz_proto::v1;
use prost::Message;
use std::time::{Duration, Instant};

/// A Zenoh configuration for an adapter: a peer that connects to `connect` (e.g.
/// `tcp/127.0.0.1:7447`, the daemon's default), listens nowhere and does not scout, so it
/// talks to exactly the nodes it is told about.
pub fn client_config(connect: &[String]) -> Result<zenoh::Config> {
    let endpoints = serde_json::to_string(connect).context("endpoints")?;
    let mut c = zenoh::Config::default();
    for (key, value) in [
        ("mode", r#""peer""#.to_string()),
        ("connect/endpoints", endpoints),
        ("listen/endpoints", "[]".into()),
        ("scouting/multicast/enabled", "false".into()),
        ("scouting/gossip/enabled", "false".into()),
    ] {
        c.insert_json5(key, &value)
            .map_err(|e| anyhow!("Zenoh setting {key}: {e}"))?;
    }
    Ok(c)
}

/// Opens a Zenoh session.
pub async fn open(config: zenoh::Config) -> Result<zenoh::Session> {
    zenoh::open(config)
        .await
        .map_err(|e| anyhow!("opening the Zenoh session: {e}"))
}

/// Where an adapter takes the run epoch from: data times on the wire count from it, so it
/// must be the daemon's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EpochSource {
    /// Given (the daemon's `[daemon] epoch_unix_ns`).
    Fixed(i64),
    /// Asked from the snapshot of this picture (`iapz/out/<picture>/snapshot`).
    FromPicture(String),
}

/// Fetches the picture's latest snapshot, retrying until `patience` has passed.
pub async fn snapshot(
    session: &zenoh::Session,
    picture: &str,
    patience: Duration,
) -> Result<v1::PictureSnapshot> {
    let key = iapz_proto::keys::snapshot(picture);
    let start = Instant::now();
    loop {
        let replies = session
            .get(&key)
            .timeout(Duration::from_secs(2))
            .await
            .map_err(|e| anyhow!("querying {key}: {e}"))?;
        while let Ok(reply) = replies.recv_async().await {
            match reply.result() {
                Ok(sample) => {
                    let bytes = sample.payload().to_bytes();
                    return v1::PictureSnapshot::decode(bytes.as_ref())
                        .with_context(|| format!("decoding the snapshot of {key}"));
                }
                Err(e) => tracing::warn!("{key}: error reply {:?}", e.payload().to_bytes()),
            }
        }
        if start.elapsed() > patience {
            bail!("no snapshot on {key} within {patience:?}: is the daemon running?");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The run epoch (ns since the Unix epoch).
pub async fn resolve_epoch(session: &zenoh::Session, source: &EpochSource) -> Result<i64> {
    match source {
        EpochSource::Fixed(e) => Ok(*e),
        EpochSource::FromPicture(p) => Ok(snapshot(session, p, Duration::from_secs(30))
            .await?
            .epoch_unix_ns),
    }
}

/// Waits until a subscriber matches `publisher`, at most `patience`; true if one did. For
/// tests and replays, which would otherwise publish before the daemon hears them.
pub async fn wait_for_subscriber(
    publisher: &zenoh::pubsub::Publisher<'_>,
    patience: Duration,
) -> bool {
    let start = Instant::now();
    while start.elapsed() < patience {
        if publisher
            .matching_status()
            .await
            .is_ok_and(|m| m.matching())
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}
