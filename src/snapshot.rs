//! The latest picture, held behind an `ArcSwap` so that the snapshot queryable and every
//! other reader take it without a lock and without ever waiting for the tracker.

use crate::shown::ShownTracks;
use crate::wire::picture_to_wire;
use arc_swap::ArcSwap;
use fusion_core::geodesy::LocalFrame;
use iapz_proto::v1;
use std::sync::Arc;

/// One published picture with its snapshot counter.
#[derive(Debug, Clone, Default)]
pub struct Published {
    /// The picture.
    pub picture: ShownTracks,
    /// Incremented by one for every picture published in the run.
    pub sequence: u64,
}

/// The latest picture of a daemon, and what a snapshot message needs besides it.
pub struct PictureStore {
    current: ArcSwap<Published>,
    picture_id: String,
    epoch_unix_ns: i64,
    frame: LocalFrame,
}

impl PictureStore {
    /// An empty picture `picture_id` in `frame`, data time counted from `epoch_unix_ns`.
    pub fn new(picture_id: &str, epoch_unix_ns: i64, frame: LocalFrame) -> Self {
        Self {
            current: ArcSwap::from_pointee(Published::default()),
            picture_id: picture_id.to_string(),
            epoch_unix_ns,
            frame,
        }
    }

    /// Replaces the picture (called by the tracker thread only, so the counter cannot race).
    pub fn publish(&self, picture: ShownTracks) {
        let sequence = self.current.load().sequence + 1;
        self.current
            .store(Arc::new(Published { picture, sequence }));
    }

    /// The latest picture.
    pub fn load(&self) -> Arc<Published> {
        self.current.load_full()
    }

    /// The latest picture as a `PictureSnapshot` message.
    pub fn snapshot_message(&self) -> v1::PictureSnapshot {
        let p = self.load();
        picture_to_wire(
            &self.picture_id,
            self.epoch_unix_ns,
            &self.frame,
            p.sequence,
            p.picture.t,
            p.picture.tracks.iter().map(|t| &**t),
        )
    }
}
