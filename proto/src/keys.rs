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

/// The last chunk of a key expression: the sensor of `iapz/in/plots/<sensor>`, the source of
/// `iapz/in/tracks/<source>`.
pub fn last_chunk(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}
