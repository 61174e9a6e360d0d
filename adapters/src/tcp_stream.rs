//! One direction of a TCP connection rebuilt from captured segments, because a Beast feed
//! recorded with tcpdump is a pcap of TCP segments, not a stream.
//!
//! Segments are placed by sequence number relative to the start of the stream (the SYN's
//! sequence number plus one, or the lowest sequence number seen when the capture started
//! mid-connection): retransmissions and overlaps keep the first copy, reordering is undone, and
//! a hole (a segment the capture missed) is skipped and counted, since the stream's own framing
//! (Beast's escape byte) resynchronises after it. The whole capture is in memory, so the
//! segments can simply be sorted.

use crate::pcap::TcpSegment;
use std::net::SocketAddrV4;

/// The bytes of one direction of one connection, and what was missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpStream {
    /// The stream's bytes, in order, holes left out.
    pub bytes: Vec<u8>,
    /// Bytes the capture did not hold (holes in the sequence space).
    pub missing: u64,
    /// Capture time of the first segment with payload (Unix seconds, nanoseconds).
    pub first_time: Option<(u32, u32)>,
}

/// The sender and receiver of one direction of a connection.
pub type Flow = (SocketAddrV4, SocketAddrV4);

/// The flows of `segments` that carry payload, each rebuilt, largest first.
pub fn rebuild<'a>(segments: impl IntoIterator<Item = TcpSegment<'a>>) -> Vec<(Flow, TcpStream)> {
    let mut flows: Vec<(Flow, Vec<TcpSegment<'a>>)> = Vec::new();
    for s in segments {
        let flow = (s.src, s.dst);
        match flows.iter_mut().find(|(f, _)| *f == flow) {
            Some((_, v)) => v.push(s),
            None => flows.push((flow, vec![s])),
        }
    }
    let mut out: Vec<(Flow, TcpStream)> = flows
        .into_iter()
        .map(|(flow, segments)| (flow, rebuild_flow(&segments)))
        .filter(|(_, s)| !s.bytes.is_empty())
        .collect();
    out.sort_by_key(|(_, s)| std::cmp::Reverse(s.bytes.len()));
    out
}

/// One direction's segments (in capture order) as a stream.
fn rebuild_flow(segments: &[TcpSegment<'_>]) -> TcpStream {
    // Where the stream starts: after the last SYN, or at the lowest sequence number seen
    // (relative to the first segment, so that a wrap of the 32-bit space is no problem).
    let Some(first) = segments.first() else {
        return TcpStream::default();
    };
    let start = match segments.iter().rev().find(|s| s.syn) {
        Some(syn) => syn.seq.wrapping_add(1),
        None => segments
            .iter()
            .filter(|s| !s.payload.is_empty())
            .map(|s| s.seq)
            .min_by_key(|seq| seq.wrapping_sub(first.seq) as i32)
            .unwrap_or(first.seq),
    };
    let mut placed: Vec<(u64, &TcpSegment<'_>)> = segments
        .iter()
        .filter(|s| !s.syn && !s.payload.is_empty())
        .filter_map(|s| {
            let at = s.seq.wrapping_sub(start);
            // Before the start (a segment of an earlier connection): not this stream.
            (at < u32::MAX / 2).then_some((u64::from(at), s))
        })
        .collect();
    // Stable: of two copies at one place, the one captured first is kept.
    placed.sort_by_key(|(at, _)| *at);
    let mut stream = TcpStream::default();
    let mut next = 0u64;
    for (at, s) in placed {
        let end = at + s.payload.len() as u64;
        if end <= next {
            continue; // a retransmission of bytes we have
        }
        if at > next {
            stream.missing += at - next;
            next = at;
        }
        let skip = (next - at) as usize;
        stream.bytes.extend_from_slice(&s.payload[skip..]);
        stream.first_time = Some(stream.first_time.map_or(s.time, |t| t.min(s.time)));
        next = end;
    }
    stream
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pcap::{PcapReader, PcapWriter};

    fn flow() -> Flow {
        (
            "10.0.0.2:30005".parse().expect("address"),
            "10.0.0.9:51234".parse().expect("address"),
        )
    }

    #[test]
    fn reordered_retransmitted_and_missing_segments_rebuild_the_stream() {
        let f = flow();
        let back = (f.1, f.0);
        let isn = u32::MAX - 3; // the sequence space wraps inside the stream
        let mut w = PcapWriter::new();
        assert!(w.push_tcp((10, 0), f, isn, true, b""));
        assert!(w.push_tcp((10, 1_000), back, 77, false, b"ack"));
        let first = isn.wrapping_add(1);
        assert!(w.push_tcp((11, 0), f, first.wrapping_add(5), false, b"fghij"));
        assert!(w.push_tcp((11, 5), f, first, false, b"abcde"));
        assert!(w.push_tcp((12, 0), f, first, false, b"abcde")); // retransmission
        assert!(w.push_tcp((12, 5), f, first.wrapping_add(8), false, b"ijklm")); // overlap
        assert!(w.push_tcp((13, 0), f, first.wrapping_add(20), false, b"uvw")); // after a hole
        let bytes = w.into_bytes();
        let reader = PcapReader::new(&bytes).expect("pcap");
        let segments: Vec<_> = reader
            .tcp_segments()
            .collect::<Result<_, _>>()
            .expect("segments");
        assert_eq!(segments.len(), 7);
        let flows = rebuild(segments);
        assert_eq!(flows.len(), 2, "both directions carry payload");
        let (got_flow, stream) = &flows[0];
        assert_eq!(*got_flow, f);
        assert_eq!(stream.bytes, b"abcdefghijklmuvw");
        assert_eq!(stream.missing, 7, "n..t were never captured");
        assert_eq!(stream.first_time, Some((11, 0)));
        assert_eq!(flows[1].1.bytes, b"ack");
    }

    #[test]
    fn udp_datagrams_are_not_tcp_segments_and_the_other_way_round() {
        let f = flow();
        let mut w = PcapWriter::new();
        assert!(w.push_udp((1, 0), f.0, f.1, b"udp"));
        assert!(w.push_tcp((2, 0), f, 1, false, b"tcp"));
        let bytes = w.into_bytes();
        let udp: Vec<_> = PcapReader::new(&bytes)
            .expect("pcap")
            .filter_map(Result::ok)
            .collect();
        assert_eq!(udp.len(), 1);
        assert_eq!(udp[0].payload, b"udp");
        let tcp: Vec<_> = PcapReader::new(&bytes)
            .expect("pcap")
            .tcp_segments()
            .filter_map(Result::ok)
            .collect();
        assert_eq!(tcp.len(), 1);
        assert_eq!(tcp[0].payload, b"tcp");
    }
}
