//! Protobuf messages (placeholder until the proto helper lands).
