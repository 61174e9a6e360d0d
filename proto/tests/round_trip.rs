//! Encode/decode round trip of every message, with every field set.
//!
//! Proto3 does not put default values (0, "", empty) on the wire, so a round
//! trip of a half-filled message proves little. Besides comparing the decoded
//! messages, this test walks the encoded bytes of all samples against the
//! schema's descriptor and checks that every field of every message of the
//! schema (each oneof alternative, optional, map and repeated field) was
//! actually on the wire at least once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;

use iapz_proto::FILE_DESCRIPTOR_SET;
use iapz_proto::v1::*;
use prost::Message;
use prost_types::field_descriptor_proto::Type;
use prost_types::{DescriptorProto, FileDescriptorSet};

fn identity(n: u32) -> Identity {
    Identity {
        icao24: Some(0x0048_4000 + n),
        mode3a: Some(0o1200 + n),
        callsign: Some(format!("IAPZ{n}")),
    }
}

fn cov(seed: f64) -> Vec<f64> {
    (1..=21).map(|k| seed + f64::from(k)).collect()
}

fn plot_batch() -> PlotBatch {
    use plot::Measurement;
    let measurements = [
        Measurement::Polar(Polar {
            range_m: 41_250.5,
            azimuth_deg: 271.25,
            elevation_deg: Some(3.5),
        }),
        Measurement::Cartesian(Cartesian {
            x: -1200.0,
            y: 3400.0,
            z: Some(950.0),
        }),
        Measurement::Bearing(Bearing {
            azimuth_deg: 12.75,
            elevation_deg: Some(-0.5),
        }),
        Measurement::Geodetic(GeodeticReport {
            lat_deg: 52.1,
            lon_deg: 20.9,
            alt_m: Some(10_500.0),
        }),
    ];
    let plots = measurements
        .into_iter()
        .zip(1u32..)
        .map(|(m, n)| Plot {
            t: 100.0 + f64::from(n) * 0.01,
            measurement: Some(m),
            identity: Some(identity(n)),
            amplitude_db: Some(-3.5 + n as f32),
            noise: Some(Noise {
                range_m: Some(50.0),
                azimuth_deg: Some(0.15),
                elevation_deg: Some(0.3),
                horizontal_m: Some(15.0),
                vertical_m: Some(25.0),
            }),
        })
        .collect();
    PlotBatch {
        sensor_id: "radar-north".into(),
        sequence: 4242,
        scan_time: 100.0,
        plots,
    }
}

fn track(n: u64) -> Track {
    Track {
        track_number: n,
        t: 101.5,
        position: Some(Enu {
            x: 1000.0,
            y: -2000.0,
            z: 3000.0,
        }),
        velocity: Some(Enu {
            x: 120.0,
            y: -35.5,
            z: 1.25,
        }),
        covariance: cov(n as f64),
        geodetic: Some(Geodetic {
            lat_deg: 52.01,
            lon_deg: 21.02,
            alt_m: 3100.0,
        }),
        status: TrackStatus::Coasting as i32,
        score: 17.25,
        sources: vec!["adsb-1".into(), "radar-north".into()],
        identity: Some(identity(7)),
        last_update_t: 100.9,
        update_count: 58,
    }
}

fn track_update() -> TrackUpdate {
    TrackUpdate {
        track: Some(track(12)),
    }
}

fn track_deletion() -> TrackDeletion {
    TrackDeletion {
        track_number: 99,
        t: 250.125,
        reason: DeletionReason::CoastTimeout as i32,
    }
}

fn track_events() -> Vec<TrackEvent> {
    vec![
        TrackEvent {
            event: Some(track_event::Event::Update(track_update())),
        },
        TrackEvent {
            event: Some(track_event::Event::Deletion(track_deletion())),
        },
    ]
}

fn picture_snapshot() -> PictureSnapshot {
    PictureSnapshot {
        picture_id: "iapz-east".into(),
        t: 300.0,
        epoch_unix_ns: 1_767_225_600_000_000_000,
        origin: Some(Geodetic {
            lat_deg: 52.0,
            lon_deg: 21.0,
            alt_m: 110.0,
        }),
        sequence: 30,
        tracks: vec![track(1), track(2)],
    }
}

fn track_feed() -> TrackFeed {
    TrackFeed {
        source_id: "partner-west".into(),
        sequence: 812,
        t: 77.5,
        tracks: vec![SourceTrack {
            track_number: 5001,
            t: 77.25,
            position: Some(Geodetic {
                lat_deg: 51.5,
                lon_deg: 19.75,
                alt_m: 8000.0,
            }),
            velocity: Some(Enu {
                x: -210.0,
                y: 15.0,
                z: -2.0,
            }),
            covariance: cov(0.5),
            status: TrackStatus::Confirmed as i32,
            identity: Some(identity(3)),
            sources: vec!["node-w".into(), "west-psr".into()],
        }],
        dropped_track_numbers: vec![4990, 4995],
        epoch_unix_ns: 1_767_225_000_000_000_000,
    }
}

fn sensor_status() -> SensorStatus {
    SensorStatus {
        sensor_id: "radar-north".into(),
        last_plot_t: 299.9,
        plots_per_s: 412.5,
        plots_in: 123_456,
        plots_rejected: 21,
        rejections_by_reason: BTreeMap::from([("late".into(), 20), ("out_of_coverage".into(), 1)]),
        queue_depth: 2,
    }
}

fn node_status() -> NodeStatus {
    NodeStatus {
        node_id: "node-1".into(),
        t: 300.0,
        sensors: vec![sensor_status()],
        live_tracks: 140,
        confirmed_tracks: 120,
        scan_time_ms_p99: 4.75,
    }
}

/// Encodes, decodes, compares; returns the encoding for the coverage check.
/// The three records of a capture file, every field set.
fn capture_records() -> Vec<iapz_proto::v1::CaptureRecord> {
    use iapz_proto::v1::capture_record::Record;
    use iapz_proto::v1::{CaptureHeader, CaptureIndex, CaptureRecord, CaptureSample};
    [
        Record::Header(CaptureHeader {
            magic: "iapz-capture".into(),
            version: 1,
            created_unix_ns: 1_767_225_600_000_000_000,
            keys: vec!["iapz/in/**".into()],
            epoch_unix_ns: 1_767_225_600_000_000_000,
            part: 2,
            source: "iapzd record".into(),
        }),
        Record::Sample(CaptureSample {
            receive_unix_ns: 1_767_225_601_000_000_000,
            key_expr: "iapz/in/plots/R1".into(),
            encoding: "zenoh/bytes".into(),
            payload: plot_batch().encode_to_vec(),
        }),
        Record::Index(CaptureIndex {
            block_offset: 120,
            samples: 1000,
            first_receive_unix_ns: 1_767_225_601_000_000_000,
            last_receive_unix_ns: 1_767_225_602_000_000_000,
            samples_total: 3000,
        }),
    ]
    .into_iter()
    .map(|r| CaptureRecord { record: Some(r) })
    .collect()
}

fn round_trip<M: Message + Default + PartialEq + Debug>(m: &M) -> Vec<u8> {
    let bytes = m.encode_to_vec();
    assert_eq!(bytes.len(), m.encoded_len());
    let back = M::decode(bytes.as_slice()).expect("decodes");
    assert_eq!(&back, m);
    // Length-delimited framing too (how several messages share one stream).
    let framed = m.encode_length_delimited_to_vec();
    assert_eq!(
        &M::decode_length_delimited(framed.as_slice()).expect("decodes"),
        m
    );
    bytes
}

#[test]
fn round_trip_every_message() {
    let mut samples: Vec<(&str, Vec<u8>)> = vec![
        ("PlotBatch", round_trip(&plot_batch())),
        ("Track", round_trip(&track(3))),
        ("TrackUpdate", round_trip(&track_update())),
        ("TrackDeletion", round_trip(&track_deletion())),
        ("PictureSnapshot", round_trip(&picture_snapshot())),
        ("TrackFeed", round_trip(&track_feed())),
        ("SensorStatus", round_trip(&sensor_status())),
        ("NodeStatus", round_trip(&node_status())),
    ];
    for event in track_events() {
        samples.push(("TrackEvent", round_trip(&event)));
    }
    for record in capture_records() {
        samples.push(("CaptureRecord", round_trip(&record)));
    }
    // Every field of every message reached the wire in some sample.
    let schema = Schema::load();
    let mut seen = BTreeSet::new();
    for (name, bytes) in &samples {
        schema.walk(&format!(".iapz.v1.{name}"), bytes, &mut seen);
    }
    let missing: Vec<_> = schema.all_fields().difference(&seen).cloned().collect();
    assert!(missing.is_empty(), "fields never exercised: {missing:?}");
}

#[test]
fn enum_values_survive_unknown_values() {
    // A newer sender may use enum values this build does not know: they must
    // decode (as the raw number), not fail.
    let d = TrackDeletion {
        track_number: 1,
        t: 1.0,
        reason: 42,
    };
    let back = TrackDeletion::decode(d.encode_to_vec().as_slice()).unwrap();
    assert_eq!(back.reason, 42);
    assert!(DeletionReason::try_from(back.reason).is_err());
}

/// The schema's messages by full name (".iapz.v1.Track", including nested
/// map entry types).
struct Schema {
    messages: HashMap<String, DescriptorProto>,
}

impl Schema {
    fn load() -> Self {
        let fds = FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
        let mut messages = HashMap::new();
        fn add(prefix: &str, d: &DescriptorProto, out: &mut HashMap<String, DescriptorProto>) {
            let name = format!("{prefix}.{}", d.name());
            for nested in &d.nested_type {
                add(&name, nested, out);
            }
            out.insert(name, d.clone());
        }
        for file in &fds.file {
            for d in &file.message_type {
                add(&format!(".{}", file.package()), d, &mut messages);
            }
        }
        Self { messages }
    }

    fn all_fields(&self) -> BTreeSet<(String, i32)> {
        self.messages
            .iter()
            .flat_map(|(name, d)| d.field.iter().map(|f| (name.clone(), f.number())))
            .collect()
    }

    /// Records every (message, field number) present in `bytes`, recursing
    /// into sub-messages.
    fn walk(&self, msg: &str, mut bytes: &[u8], seen: &mut BTreeSet<(String, i32)>) {
        let d = &self.messages[msg];
        while !bytes.is_empty() {
            let key = varint(&mut bytes);
            let number = i32::try_from(key >> 3).unwrap();
            let value: &[u8] = match key & 7 {
                0 => {
                    varint(&mut bytes);
                    &[]
                }
                1 => take(&mut bytes, 8),
                2 => {
                    let len = usize::try_from(varint(&mut bytes)).unwrap();
                    take(&mut bytes, len)
                }
                5 => take(&mut bytes, 4),
                w => panic!("unexpected wire type {w} in {msg}"),
            };
            let field = d
                .field
                .iter()
                .find(|f| f.number() == number)
                .unwrap_or_else(|| panic!("{msg} has no field {number}"));
            seen.insert((msg.to_owned(), number));
            if field.r#type() == Type::Message {
                self.walk(field.type_name(), value, seen);
            }
        }
    }
}

fn varint(bytes: &mut &[u8]) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = take(bytes, 1)[0];
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return v;
        }
    }
    panic!("varint too long")
}

fn take<'a>(bytes: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, tail) = bytes.split_at(n);
    *bytes = tail;
    head
}
