//! The key expressions of the daemon: the public addresses of its inputs and outputs. They live
//! here, next to the `.proto` files, because they are the wire interface that adapters and
//! consumers share with the daemon without depending on it.
//!
//! Everything under `iapz/in/**` is read by the daemon, everything under
//! `iapz/out/<picture>/**` is written by it. Payloads are plain protobuf (`iapz.v1`, see
//! `proto/`), so any Zenoh client in any language can take part.

/// Subscribed for plot batches: `iapz/in/plots/<sensor>` carries `iapz.v1.PlotBatch`.
pub const PLOTS_IN: &str = "iapz/in/plots/*";

/// Subscribed for track feeds: `iapz/in/tracks/<source>` carries `iapz.v1.TrackFeed`.
pub const TRACKS_IN: &str = "iapz/in/tracks/*";

/// Where an adapter publishes the plot batches of `sensor`.
pub fn plots_in(sensor: &str) -> String {
    format!("iapz/in/plots/{sensor}")
}

/// Where a partner or another node publishes its track feed `source`.
pub fn tracks_in(source: &str) -> String {
    format!("iapz/in/tracks/{source}")
}

/// Where the updates and the deletion of one track are published (`iapz.v1.TrackEvent`).
pub fn track_out(picture: &str, track_number: u64) -> String {
    format!("iapz/out/{picture}/tracks/{track_number}")
}

/// All track events of a picture: what a consumer subscribes to.
pub fn tracks_out(picture: &str) -> String {
    format!("iapz/out/{picture}/tracks/*")
}

/// The queryable answering with the whole picture (`iapz.v1.PictureSnapshot`).
pub fn snapshot(picture: &str) -> String {
    format!("iapz/out/{picture}/snapshot")
}

/// Node and sensor health, published periodically (`iapz.v1.NodeStatus`).
pub fn status(picture: &str) -> String {
    format!("iapz/out/{picture}/status")
}

/// Everything of one coalition partner lives under `iapz/partner/<partner>/`: what we release
/// to it and what it sends us. One prefix per partner is what lets the coalition router's
/// access control give each partner's certificate exactly its own keys (see `iapzd bridge`).
pub fn partner_space(partner: &str) -> String {
    format!("iapz/partner/{partner}/**")
}

/// The tracks released to `partner` (`iapz.v1.TrackFeed`: stripped, renumbered, geodetic):
/// the only key of ours the partner may subscribe to.
pub fn partner_released(partner: &str) -> String {
    format!("iapz/partner/{partner}/released/tracks")
}

/// The queryable answering with the whole picture released to `partner` (one
/// `iapz.v1.TrackFeed` holding every released track): the partner's snapshot after a
/// (re)connection.
pub fn partner_snapshot(partner: &str) -> String {
    format!("iapz/partner/{partner}/released/snapshot")
}

/// Everything the partner may read: its released tracks and their snapshot.
pub fn partner_released_space(partner: &str) -> String {
    format!("iapz/partner/{partner}/released/**")
}

/// Where `partner` publishes its own tracks (`iapz.v1.TrackFeed`): the only key it may put on.
/// The bridge takes them from here into our daemon's `iapz/in/tracks/<partner>`.
pub fn partner_inbound(partner: &str) -> String {
    format!("iapz/partner/{partner}/inbound")
}

/// The last chunk of a key expression: the sensor of `iapz/in/plots/<sensor>`, the source of
/// `iapz/in/tracks/<source>`.
pub fn last_chunk(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}
