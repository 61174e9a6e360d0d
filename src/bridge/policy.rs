//! The release policy towards one partner: which of our tracks it may receive (the rules, each
//! with the name it is counted and logged under) and which fields it never sees.
//!
//! The decision is taken on the very state that would be sent, so a state outside the
//! releasable areas is never sent, whatever the delay and rate limits do afterwards.

use super::area::{Area, inside_any};
use iapz_proto::v1;
use serde::Deserialize;
use std::collections::BTreeSet;

/// Why a track update is withheld from the partner. `as_str` is the `rule` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// No sensor or node of ours holds the track (another partner's or this partner's own
    /// object): it is not ours to release.
    NotOurs,
    /// The track's provenance lists a source whose data may not be passed on.
    RestrictedSource,
    /// The track is coasting and coasting tracks are not released.
    Coasting,
    /// Fewer updates than the minimum confirmation asks.
    TooFewUpdates,
    /// The track is outside every releasable area.
    OutsideArea,
}

impl Rule {
    /// Every rule, in the order they are checked.
    pub const ALL: [Rule; 5] = [
        Rule::NotOurs,
        Rule::RestrictedSource,
        Rule::Coasting,
        Rule::TooFewUpdates,
        Rule::OutsideArea,
    ];

    /// The stable name (metric label, log field).
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::NotOurs => "not_ours",
            Rule::RestrictedSource => "restricted_source",
            Rule::Coasting => "coasting",
            Rule::TooFewUpdates => "too_few_updates",
            Rule::OutsideArea => "outside_area",
        }
    }

    /// Index in [`Rule::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A field of a released track that the partner never receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// Provenance: our sensor and node ids. Replaced by the id we are released as, which the
    /// partner's echoes bring back so that our daemon recognises them.
    Sources,
    /// ICAO address, Mode 3/A, callsign.
    Identity,
    /// The covariance (the partner assumes its own accuracy for us).
    Covariance,
    /// The velocity.
    Velocity,
}

/// The rules and the stripping of one partner's releases.
#[derive(Debug, Clone)]
pub struct ReleasePolicy {
    /// Tracks are releasable only inside one of these.
    pub areas: Vec<Area>,
    /// Minimum `update_count` (plot and source updates) of a released track.
    pub min_updates: u32,
    /// Whether coasting tracks are released (confirmed ones always are).
    pub release_coasting: bool,
    /// Provenance ids that make a track ours (our node ids): a track listing none is withheld.
    pub own_sources: BTreeSet<String>,
    /// Provenance ids whose data may not be passed on: a track listing one is withheld.
    pub restricted_sources: BTreeSet<String>,
    /// Fields removed before release.
    pub strip: BTreeSet<Field>,
    /// The source id the partner knows us by (the released feed's `source_id`).
    pub released_as: String,
}

impl ReleasePolicy {
    /// Whether our track `tr` may be released, or the first rule that withholds it.
    pub fn check(&self, tr: &v1::Track) -> Result<(), Rule> {
        if !tr.sources.iter().any(|s| self.own_sources.contains(s)) {
            return Err(Rule::NotOurs);
        }
        if tr
            .sources
            .iter()
            .any(|s| self.restricted_sources.contains(s))
        {
            return Err(Rule::RestrictedSource);
        }
        if !self.release_coasting && tr.status == v1::TrackStatus::Coasting as i32 {
            return Err(Rule::Coasting);
        }
        if tr.update_count < self.min_updates {
            return Err(Rule::TooFewUpdates);
        }
        let inside = tr
            .geodetic
            .as_ref()
            .is_some_and(|g| inside_any(&self.areas, g.lat_deg, g.lon_deg));
        if !inside {
            return Err(Rule::OutsideArea);
        }
        Ok(())
    }

    /// Removes the stripped fields of a track about to be released. The provenance always
    /// ends up listing `released_as` (alone when `sources` is stripped).
    pub fn strip(&self, st: &mut v1::SourceTrack) {
        if self.strip.contains(&Field::Sources) {
            st.sources.clear();
        }
        if !st.sources.contains(&self.released_as) {
            st.sources.push(self.released_as.clone());
            st.sources.sort();
        }
        if self.strip.contains(&Field::Identity) {
            st.identity = None;
        }
        if self.strip.contains(&Field::Covariance) {
            st.covariance.clear();
        }
        if self.strip.contains(&Field::Velocity) {
            st.velocity = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ReleasePolicy {
        ReleasePolicy {
            areas: vec![Area {
                name: "box".into(),
                polygon: vec![[49.0, 23.0], [51.0, 23.0], [51.0, 25.0], [49.0, 25.0]],
            }],
            min_updates: 3,
            release_coasting: false,
            own_sources: ["west-1".to_string()].into(),
            restricted_sources: ["bravo".to_string()].into(),
            strip: [Field::Sources, Field::Identity].into(),
            released_as: "coalition-west".into(),
        }
    }

    fn track(lat: f64, sources: &[&str]) -> v1::Track {
        v1::Track {
            track_number: 1,
            status: v1::TrackStatus::Confirmed as i32,
            update_count: 5,
            sources: sources.iter().map(|s| s.to_string()).collect(),
            geodetic: Some(v1::Geodetic {
                lat_deg: lat,
                lon_deg: 24.0,
                alt_m: 1000.0,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn each_rule_withholds_and_is_named() {
        let p = policy();
        assert_eq!(p.check(&track(50.0, &["R1", "west-1"])), Ok(()));
        assert_eq!(
            p.check(&track(52.0, &["R1", "west-1"])),
            Err(Rule::OutsideArea)
        );
        assert_eq!(p.check(&track(50.0, &["alpha"])), Err(Rule::NotOurs));
        assert_eq!(
            p.check(&track(50.0, &["R1", "bravo", "west-1"])),
            Err(Rule::RestrictedSource)
        );
        let mut t = track(50.0, &["west-1"]);
        t.status = v1::TrackStatus::Coasting as i32;
        assert_eq!(p.check(&t), Err(Rule::Coasting));
        let mut t = track(50.0, &["west-1"]);
        t.update_count = 2;
        assert_eq!(p.check(&t), Err(Rule::TooFewUpdates));
        let mut t = track(50.0, &["west-1"]);
        t.geodetic = None;
        assert_eq!(p.check(&t), Err(Rule::OutsideArea));
        let names: BTreeSet<&str> = Rule::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), Rule::ALL.len());
        assert!(Rule::ALL.iter().enumerate().all(|(i, r)| r.index() == i));
    }

    #[test]
    fn stripped_fields_are_gone_and_our_released_id_stays() {
        let mut p = policy();
        let mut st = v1::SourceTrack {
            sources: vec!["R1".into(), "west-1".into()],
            identity: Some(v1::Identity {
                icao24: Some(0x4840D6),
                ..Default::default()
            }),
            covariance: vec![1.0; 21],
            velocity: Some(v1::Enu::default()),
            ..Default::default()
        };
        let kept = st.clone();
        p.strip(&mut st);
        assert_eq!(st.sources, vec!["coalition-west".to_string()]);
        assert_eq!(st.identity, None);
        assert_eq!((st.covariance.len(), st.velocity.is_some()), (21, true));
        p.strip = [Field::Covariance, Field::Velocity].into();
        let mut st = kept;
        p.strip(&mut st);
        assert_eq!(st.sources, ["R1", "coalition-west", "west-1"]);
        assert!(st.covariance.is_empty() && st.velocity.is_none() && st.identity.is_some());
    }
}
