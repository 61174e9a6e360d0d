//! The publisher thread: track events from the tracker thread become `TrackEvent` messages on
//! `iapz/out/<picture>/tracks/<track number>`, and our own feed messages go out on
//! `iapz/in/tracks/<node_id>`.
//!
//! Our feed is put for remote subscribers only (`Locality::Remote`): our own feed subscriber
//! would only ignore it.
//!
//! Track data use Zenoh's `Block` congestion control (the default, `Drop`, loses messages
//! under load); the wait this may cause stays on this thread, never on the tracker's.

use crate::engine::Output;
use crate::keys;
use crate::shown::PictureEvent;
use crate::status::Health;
use crate::wire::{track_to_wire, wire_time};
use crossbeam::channel::Receiver;
use fusion_core::geodesy::LocalFrame;
use iapz_proto::v1;
use prost::Message;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use zenoh::Wait;
use zenoh::qos::CongestionControl;
use zenoh::sample::Locality;

/// Everything the publisher needs.
pub struct Publisher {
    /// The Zenoh session to publish on.
    pub session: zenoh::Session,
    /// Picture id (part of the key expressions).
    pub picture_id: String,
    /// Our node id: the source of our own feed.
    pub node_id: String,
    /// Frame of the picture, for geodetic positions.
    pub frame: LocalFrame,
    /// Counters and metrics.
    pub health: Arc<Health>,
}

impl Publisher {
    /// Starts the thread; it ends when the sending side of `rx` is dropped.
    pub fn spawn(self, rx: Receiver<Output>) -> std::io::Result<JoinHandle<()>> {
        thread::Builder::new()
            .name("iapz-publish".into())
            .spawn(move || {
                for output in rx {
                    self.publish(&output);
                }
            })
    }

    fn publish(&self, output: &Output) {
        for event in &output.events {
            let (number, event) = match event {
                PictureEvent::Updated(tr) => {
                    let track = track_to_wire(tr, &self.frame);
                    self.health.metrics.updates_out.increment(1);
                    let update = v1::TrackUpdate { track: Some(track) };
                    (tr.number, v1::track_event::Event::Update(update))
                }
                &PictureEvent::Deleted(n, reason) => {
                    self.health.metrics.deletions_out.increment(1);
                    let deletion = v1::TrackDeletion {
                        track_number: n,
                        t: wire_time(output.t),
                        reason: reason as i32,
                    };
                    (n, v1::track_event::Event::Deletion(deletion))
                }
            };
            let payload = v1::TrackEvent { event: Some(event) }.encode_to_vec();
            let key = keys::track_out(&self.picture_id, number);
            if let Err(e) = self
                .session
                .put(&key, payload)
                .congestion_control(CongestionControl::Block)
                .wait()
            {
                tracing::warn!(key, "publishing a track event failed: {e}");
            }
        }
        if let Some(feed) = &output.feed {
            let key = keys::tracks_in(&self.node_id);
            if let Err(e) = self
                .session
                .put(&key, feed.encode_to_vec())
                .congestion_control(CongestionControl::Block)
                .allowed_destination(Locality::Remote)
                .wait()
            {
                tracing::warn!(key, "publishing our track feed failed: {e}");
            }
        }
        if !output.events.is_empty() {
            self.health
                .metrics
                .plot_to_publish
                .record(output.received.elapsed().as_secs_f64());
        }
    }
}
