//! The embedded FileDescriptorSet decodes and describes the schema.

use iapz_proto::FILE_DESCRIPTOR_SET;
use prost::{Message, Name};
use prost_types::FileDescriptorSet;

fn fds() -> FileDescriptorSet {
    FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("descriptor set decodes")
}

#[test]
fn lists_the_expected_files_and_messages() {
    let fds = fds();
    let mut files: Vec<_> = fds.file.iter().map(|f| f.name()).collect();
    files.sort_unstable();
    assert_eq!(
        files,
        [
            "iapz/v1/capture.proto",
            "iapz/v1/common.proto",
            "iapz/v1/feed.proto",
            "iapz/v1/plot.proto",
            "iapz/v1/status.proto",
            "iapz/v1/track.proto",
        ]
    );
    assert!(fds.file.iter().all(|f| f.package() == "iapz.v1"));
    assert!(fds.file.iter().all(|f| f.syntax() == "proto3"));

    let mut messages: Vec<_> = fds
        .file
        .iter()
        .flat_map(|f| f.message_type.iter().map(|m| m.name()))
        .collect();
    messages.sort_unstable();
    let mut expected = vec![
        "Enu",
        "Geodetic",
        "Identity",
        "PlotBatch",
        "Plot",
        "Polar",
        "Cartesian",
        "Bearing",
        "GeodeticReport",
        "Noise",
        "Track",
        "TrackUpdate",
        "TrackDeletion",
        "TrackEvent",
        "PictureSnapshot",
        "TrackFeed",
        "SourceTrack",
        "SensorStatus",
        "NodeStatus",
        "CaptureRecord",
        "CaptureHeader",
        "CaptureSample",
        "CaptureIndex",
    ];
    expected.sort_unstable();
    assert_eq!(messages, expected);

    let mut enums: Vec<_> = fds
        .file
        .iter()
        .flat_map(|f| f.enum_type.iter().map(|e| e.name()))
        .collect();
    enums.sort_unstable();
    assert_eq!(enums, ["DeletionReason", "TrackStatus"]);
}

#[test]
fn every_message_and_field_is_documented() {
    // Source info is kept in the descriptor set, so reflection tools see the
    // comments. Path [4, m] is message m of a file, [4, m, 2, f] its field f;
    // [5, e] is enum e and [5, e, 2, v] its value v.
    for file in fds().file {
        let info = file.source_code_info.as_ref().expect("source info kept");
        let documented = |path: &[i32]| {
            info.location
                .iter()
                .any(|l| l.path == path && !l.leading_comments().trim().is_empty())
        };
        for (m, msg) in file.message_type.iter().enumerate() {
            let m = i32::try_from(m).unwrap();
            assert!(documented(&[4, m]), "{} undocumented", msg.name());
            for (f, field) in msg.field.iter().enumerate() {
                let f = i32::try_from(f).unwrap();
                assert!(
                    documented(&[4, m, 2, f]),
                    "{}.{} undocumented",
                    msg.name(),
                    field.name()
                );
            }
        }
        for (e, en) in file.enum_type.iter().enumerate() {
            let e = i32::try_from(e).unwrap();
            assert!(documented(&[5, e]), "{} undocumented", en.name());
            for (v, value) in en.value.iter().enumerate() {
                let v = i32::try_from(v).unwrap();
                assert!(documented(&[5, e, 2, v]), "{} undocumented", value.name());
            }
        }
    }
}

#[test]
fn type_names_match_the_descriptor() {
    use iapz_proto::v1::{PlotBatch, Track, TrackEvent};
    assert_eq!(PlotBatch::full_name(), "iapz.v1.PlotBatch");
    assert_eq!(Track::full_name(), "iapz.v1.Track");
    assert_eq!(TrackEvent::type_url(), "/iapz.v1.TrackEvent");
}
