//! Helpers shared by the daemon's integration tests (real Zenoh sessions on the loopback).

use std::time::{Duration, Instant};
use zenoh::qos::CongestionControl;

/// Time allowed for anything the tests wait for; generous for a loaded 2-core CI machine.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Declares a publisher for `key` and waits until a subscriber (the daemon's) matches it, so
/// that nothing put afterwards is lost to a declaration still on its way.
pub async fn publisher(session: &zenoh::Session, key: String) -> zenoh::pubsub::Publisher<'static> {
    let p = session
        .declare_publisher(key)
        .congestion_control(CongestionControl::Block)
        .await
        .expect("publisher");
    let start = Instant::now();
    while !p.matching_status().await.expect("matching").matching() {
        assert!(start.elapsed() < PATIENCE, "the daemon never subscribed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    p
}
