//! Wire compatibility: a PlotBatch written out byte by byte from the protobuf
//! encoding rules and the field numbers of `plot.proto` / `common.proto`.
//!
//! If a field is renumbered, retyped (e.g. double -> float) or a oneof
//! alternative moves, these bytes stop decoding to the expected message and
//! the test fails. Fix the schema, not this test: the bytes are what
//! consumers in other languages already produce and expect.
//!
//! Key byte = (field_number << 3) | wire_type; wire types: 0 varint,
//! 1 fixed64 (double), 2 length-delimited (string, message, packed),
//! 5 fixed32 (float). Doubles and floats are little-endian IEEE 754.

use iapz_proto::v1::{GeodeticReport, Identity, Noise, Plot, PlotBatch, Polar, plot::Measurement};
use prost::Message;

#[rustfmt::skip]
const PLOT_BATCH: &[u8] = &[
    // PlotBatch.sensor_id = "r1" (1, LEN)
    0x0A, 0x02, b'r', b'1',
    // PlotBatch.sequence = 7 (2, VARINT)
    0x10, 0x07,
    // PlotBatch.scan_time = 1.5 (3, I64)
    0x19, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xF8, 0x3F,
    // PlotBatch.plots[0] (4, LEN), 43 bytes
    0x22, 0x2B,
        // Plot.t = 1.25 (1, I64)
        0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xF4, 0x3F,
        // Plot.polar (2, LEN), 27 bytes
        0x12, 0x1B,
            // Polar.range_m = 1000.0 (1, I64)
            0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x8F, 0x40,
            // Polar.azimuth_deg = 90.0 (2, I64)
            0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x56, 0x40,
            // Polar.elevation_deg = 2.0 (3, I64)
            0x19, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40,
        // Plot.amplitude_db = 12.5f (7, I32)
        0x3D, 0x00, 0x00, 0x48, 0x41,
    // PlotBatch.plots[1] (4, LEN), 65 bytes
    0x22, 0x41,
        // Plot.t = 1.5 (1, I64)
        0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xF8, 0x3F,
        // Plot.geodetic (5, LEN), 27 bytes
        0x2A, 0x1B,
            // GeodeticReport.lat_deg = 52.0 (1, I64)
            0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x4A, 0x40,
            // GeodeticReport.lon_deg = 21.0 (2, I64)
            0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x35, 0x40,
            // GeodeticReport.alt_m = 1000.0 (3, I64)
            0x19, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x8F, 0x40,
        // Plot.identity (6, LEN), 14 bytes
        0x32, 0x0E,
            // Identity.icao24 = 0x4840D6 (1, VARINT)
            0x08, 0xD6, 0x81, 0xA1, 0x02,
            // Identity.mode3a = 0o7700 = 4032 (2, VARINT)
            0x10, 0xC0, 0x1F,
            // Identity.callsign = "LOT1" (3, LEN)
            0x1A, 0x04, b'L', b'O', b'T', b'1',
        // Plot.noise (8, LEN), 9 bytes
        0x42, 0x09,
            // Noise.horizontal_m = 10.0 (4, I64)
            0x21, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x24, 0x40,
];

fn expected() -> PlotBatch {
    PlotBatch {
        sensor_id: "r1".into(),
        sequence: 7,
        scan_time: 1.5,
        plots: vec![
            Plot {
                t: 1.25,
                measurement: Some(Measurement::Polar(Polar {
                    range_m: 1000.0,
                    azimuth_deg: 90.0,
                    elevation_deg: Some(2.0),
                })),
                identity: None,
                amplitude_db: Some(12.5),
                noise: None,
            },
            Plot {
                t: 1.5,
                measurement: Some(Measurement::Geodetic(GeodeticReport {
                    lat_deg: 52.0,
                    lon_deg: 21.0,
                    alt_m: Some(1000.0),
                })),
                identity: Some(Identity {
                    icao24: Some(0x4840D6),
                    mode3a: Some(0o7700),
                    callsign: Some("LOT1".into()),
                }),
                amplitude_db: None,
                noise: Some(Noise {
                    horizontal_m: Some(10.0),
                    ..Default::default()
                }),
            },
        ],
    }
}

#[test]
fn hand_encoded_plot_batch_decodes() {
    let batch = PlotBatch::decode(PLOT_BATCH).expect("hand-encoded bytes decode");
    assert_eq!(batch, expected());
}

#[test]
fn encoding_matches_hand_encoded_bytes() {
    let bytes = expected().encode_to_vec();
    // prost writes a oneof after the plain fields of its message, where
    // protoc-generated code writes fields in number order: both are valid
    // protobuf, so compare lengths and a decode rather than raw bytes...
    assert_eq!(bytes.len(), PLOT_BATCH.len());
    assert_eq!(PlotBatch::decode(bytes.as_slice()).unwrap(), expected());
    // ...and the bytes themselves for the part before the first oneof.
    assert_eq!(bytes[..24], PLOT_BATCH[..24]);
}

#[test]
fn unknown_fields_are_skipped() {
    // A newer sender may add fields: an older receiver must ignore them.
    let mut bytes = PLOT_BATCH.to_vec();
    // field 15, VARINT 1; field 16, LEN "x"
    bytes.extend_from_slice(&[0x78, 0x01, 0x82, 0x01, 0x01, b'x']);
    assert_eq!(PlotBatch::decode(bytes.as_slice()).unwrap(), expected());
}
