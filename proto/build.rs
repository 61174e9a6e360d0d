//! Compiles the `iapz.v1` protobuf schema with `protox` (pure Rust, no system
//! `protoc`) and generates the Rust types with `prost-build`.
//!
//! Outputs in `OUT_DIR`:
//! * `iapz.v1.rs`: the generated messages, included by `src/lib.rs`;
//! * `iapz.v1.fds.bin`: the encoded `FileDescriptorSet` (with source info, so
//!   comments included), exposed as `iapz_proto::FILE_DESCRIPTOR_SET`.

use std::path::PathBuf;

use protox::prost::Message as _;

const INCLUDE_DIR: &str = "proto";

const PROTO_FILES: &[&str] = &[
    "proto/iapz/v1/common.proto",
    "proto/iapz/v1/plot.proto",
    "proto/iapz/v1/track.proto",
    "proto/iapz/v1/feed.proto",
    "proto/iapz/v1/status.proto",
    "proto/iapz/v1/capture.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The directory too, so that a newly added file triggers a rebuild.
    println!("cargo:rerun-if-changed=proto/iapz/v1");
    for file in PROTO_FILES {
        println!("cargo:rerun-if-changed={file}");
    }

    let fds = protox::compile(PROTO_FILES, [INCLUDE_DIR])?;

    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    std::fs::write(out_dir.join("iapz.v1.fds.bin"), fds.encode_to_vec())?;

    prost_build::Config::new()
        // Deterministic map order: identical messages encode to identical
        // bytes, which keeps recordings and replays reproducible.
        .btree_map(["."])
        // `prost::Name` for every message (full names such as
        // "iapz.v1.Track", type URLs for `Any`).
        .enable_type_names()
        .compile_fds(fds)?;
    Ok(())
}
