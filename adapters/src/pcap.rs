//! A small reader for classic pcap captures of UDP traffic, because radar data is most often
//! recorded and shared as Wireshark/tcpdump captures of its UDP stream; and of TCP segments,
//! because a Beast feed (dump1090/readsb on TCP 30005) is recorded the same way (the stream is
//! rebuilt by [`crate::tcp_stream`]).
//!
//! It handles classic pcap (microsecond and nanosecond, either byte order), link types
//! Ethernet (1, with 802.1Q/802.1ad tags), raw IPv4 (101, 228), Linux cooked capture v1
//! (113) and v2 (276), and IPv4/UDP and IPv4/TCP without fragmentation. pcapng and IPv6 are
//! out of scope; anything else is reported per packet and the reader goes on.

use std::net::{Ipv4Addr, SocketAddrV4};

/// Why a capture or one of its packets yields no UDP payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PcapError {
    /// The file does not start with a classic pcap magic number (pcapng is not supported).
    #[error("not a classic pcap file (magic {0:#010x}); pcapng is not supported")]
    BadMagic(u32),
    /// The file is shorter than the 24-byte global header.
    #[error("pcap global header truncated")]
    TruncatedHeader,
    /// A packet record runs past the end of the file; nothing after it can be read.
    #[error("packet {index} at byte {offset}: record truncated")]
    TruncatedRecord {
        /// Packet number (0-based).
        index: usize,
        /// Byte offset of its record header.
        offset: usize,
    },
    /// The capture's link layer is not one this reader understands.
    #[error("unsupported pcap link type {0}")]
    UnsupportedLinkType(u32),
    /// A packet that is not IPv4/UDP, or is an IP fragment, or is malformed: skipped.
    #[error("packet {index} at byte {offset}: skipped: {reason}")]
    Skipped {
        /// Packet number (0-based).
        index: usize,
        /// Byte offset of its record header.
        offset: usize,
        /// What it was instead.
        reason: &'static str,
    },
}

/// One UDP datagram from the capture, borrowed from the file's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    /// Packet number in the capture (0-based).
    pub index: usize,
    /// Capture time: seconds and nanoseconds since the Unix epoch.
    pub time: (u32, u32),
    /// Sender.
    pub src: SocketAddrV4,
    /// Receiver (possibly a multicast group, as radar feeds often are).
    pub dst: SocketAddrV4,
    /// The UDP payload.
    pub payload: &'a [u8],
    /// Byte offset of the payload in the file, to report decoding errors against.
    pub payload_offset: usize,
}

/// One TCP segment from the capture, borrowed from the file's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    /// Packet number in the capture (0-based).
    pub index: usize,
    /// Capture time: seconds and nanoseconds since the Unix epoch.
    pub time: (u32, u32),
    /// Sender.
    pub src: SocketAddrV4,
    /// Receiver.
    pub dst: SocketAddrV4,
    /// Sequence number of the first payload byte (of the SYN itself when `syn`).
    pub seq: u32,
    /// The SYN flag: the connection starts, the stream begins at `seq + 1`.
    pub syn: bool,
    /// The segment's payload (often empty: acknowledgements).
    pub payload: &'a [u8],
}

/// One captured IPv4 packet.
struct IpPacket<'a> {
    index: usize,
    offset: usize,
    time: (u32, u32),
    ip: &'a [u8],
    ip_start: usize,
}

/// Iterates over the UDP datagrams of a classic pcap file held in memory.
pub struct PcapReader<'a> {
    data: &'a [u8],
    pos: usize,
    swapped: bool,
    nanos: bool,
    link_type: u32,
    index: usize,
}

impl<'a> PcapReader<'a> {
    /// Checks the global header; packets are read by iterating.
    pub fn new(data: &'a [u8]) -> Result<Self, PcapError> {
        let header = data.get(..24).ok_or(PcapError::TruncatedHeader)?;
        let magic = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let (swapped, nanos) = match magic {
            0xa1b2_c3d4 => (false, false),
            0xd4c3_b2a1 => (true, false),
            0xa1b2_3c4d => (false, true),
            0x4d3c_b2a1 => (true, true),
            other => return Err(PcapError::BadMagic(other)),
        };
        let mut reader = PcapReader {
            data,
            pos: 24,
            swapped,
            nanos,
            link_type: 0,
            index: 0,
        };
        reader.link_type = reader.u32_at(20) & 0x0fff_ffff;
        match reader.link_type {
            1 | 101 | 228 | 113 | 276 => Ok(reader),
            other => Err(PcapError::UnsupportedLinkType(other)),
        }
    }

    /// The capture's link type (1 Ethernet, 113 Linux cooked, ...).
    pub fn link_type(&self) -> u32 {
        self.link_type
    }

    /// A header field in the file's byte order; callers have checked the bounds.
    fn u32_at(&self, at: usize) -> u32 {
        let b = [
            self.data[at],
            self.data[at + 1],
            self.data[at + 2],
            self.data[at + 3],
        ];
        if self.swapped {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    /// Finds the IPv4 packet inside a link-layer frame.
    fn ip_packet<'f>(&self, frame: &'f [u8]) -> Result<&'f [u8], &'static str> {
        let be16 = |b: &[u8], at: usize| {
            b.get(at..at + 2)
                .map(|s| u16::from_be_bytes([s[0], s[1]]))
                .ok_or("link header truncated")
        };
        let (ethertype, start) = match self.link_type {
            1 => {
                let mut at = 12;
                let mut t = be16(frame, at)?;
                while t == 0x8100 || t == 0x88a8 {
                    at += 4;
                    t = be16(frame, at)?;
                }
                (t, at + 2)
            }
            113 => (be16(frame, 14)?, 16),
            276 => (be16(frame, 0)?, 20),
            _ => (0x0800, 0),
        };
        if ethertype != 0x0800 {
            return Err("not IPv4");
        }
        frame.get(start..).ok_or("link header truncated")
    }
}

/// The UDP datagram in an IPv4 packet.
fn udp_in_ipv4(ip: &[u8]) -> Result<(SocketAddrV4, SocketAddrV4, usize, usize), &'static str> {
    let Ipv4Header {
        src,
        dst,
        ihl,
        total,
    } = ipv4_transport(ip, 17)?;
    let udp = &ip[ihl..total];
    if udp.len() < 8 {
        return Err("UDP header truncated");
    }
    let udp_len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    if udp_len < 8 || udp_len > udp.len() {
        return Err("UDP length does not match the packet");
    }
    Ok((
        socket(src, &udp[0..2]),
        socket(dst, &udp[2..4]),
        ihl + 8,
        ihl + udp_len,
    ))
}

impl<'a> PcapReader<'a> {
    /// The TCP segments of the capture instead of its UDP datagrams (packets that are not
    /// IPv4/TCP are skipped silently; a truncated record ends the iteration with its error).
    pub fn tcp_segments(self) -> TcpSegments<'a> {
        TcpSegments { reader: self }
    }

    /// The next packet's IPv4 packet, or why it has none.
    fn next_packet(&mut self) -> Option<Result<IpPacket<'a>, PcapError>> {
        if self.pos >= self.data.len() {
            return None;
        }
        let offset = self.pos;
        let index = self.index;
        self.index += 1;
        let truncated = PcapError::TruncatedRecord { index, offset };
        if self.data.len() - offset < 16 {
            self.pos = self.data.len();
            return Some(Err(truncated));
        }
        let secs = self.u32_at(offset);
        let frac = self.u32_at(offset + 4);
        let incl = self.u32_at(offset + 8) as usize;
        let start = offset + 16;
        let Some(frame) = self.data.get(start..start.saturating_add(incl)) else {
            self.pos = self.data.len();
            return Some(Err(truncated));
        };
        self.pos = start + incl;
        let nanos = if self.nanos {
            frac
        } else {
            frac.saturating_mul(1000)
        };
        let skipped = |reason| PcapError::Skipped {
            index,
            offset,
            reason,
        };
        let ip = match self.ip_packet(frame) {
            Ok(ip) => ip,
            Err(reason) => return Some(Err(skipped(reason))),
        };
        Some(Ok(IpPacket {
            index,
            offset,
            time: (secs, nanos),
            ip,
            ip_start: start + (frame.len() - ip.len()),
        }))
    }
}

impl<'a> Iterator for PcapReader<'a> {
    type Item = Result<UdpDatagram<'a>, PcapError>;

    fn next(&mut self) -> Option<Self::Item> {
        let p = match self.next_packet()? {
            Ok(p) => p,
            Err(e) => return Some(Err(e)),
        };
        Some(match udp_in_ipv4(p.ip) {
            Ok((src, dst, from, to)) => Ok(UdpDatagram {
                index: p.index,
                time: p.time,
                src,
                dst,
                payload: &p.ip[from..to],
                payload_offset: p.ip_start + from,
            }),
            Err(reason) => Err(PcapError::Skipped {
                index: p.index,
                offset: p.offset,
                reason,
            }),
        })
    }
}

/// Iterates over the TCP segments of a classic pcap file (see [`PcapReader::tcp_segments`]).
pub struct TcpSegments<'a> {
    reader: PcapReader<'a>,
}

impl<'a> Iterator for TcpSegments<'a> {
    type Item = Result<TcpSegment<'a>, PcapError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let p = match self.reader.next_packet()? {
                Ok(p) => p,
                Err(e @ PcapError::TruncatedRecord { .. }) => return Some(Err(e)),
                Err(_) => continue,
            };
            if let Ok(s) = tcp_in_ipv4(p.ip) {
                return Some(Ok(TcpSegment {
                    index: p.index,
                    time: p.time,
                    src: s.src,
                    dst: s.dst,
                    seq: s.seq,
                    syn: s.syn,
                    payload: &p.ip[s.payload.0..s.payload.1],
                }));
            }
        }
    }
}

/// What the transport layer needs of an IPv4 header.
struct Ipv4Header {
    src: [u8; 4],
    dst: [u8; 4],
    /// Header length: where the transport header starts.
    ihl: usize,
    /// Packet length (bounded by what was captured).
    total: usize,
}

/// The IPv4 header of a packet carrying `protocol`.
fn ipv4_transport(ip: &[u8], protocol: u8) -> Result<Ipv4Header, &'static str> {
    if ip.len() < 20 || ip[0] >> 4 != 4 {
        return Err("not IPv4");
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
    if ihl < 20 || total < ihl {
        return Err("malformed IPv4 header");
    }
    let frag = u16::from_be_bytes([ip[6], ip[7]]);
    if frag & 0x3fff != 0 {
        return Err("IPv4 fragment (reassembly not supported)");
    }
    if ip[9] != protocol {
        return Err(if protocol == 17 { "not UDP" } else { "not TCP" });
    }
    Ok(Ipv4Header {
        src: [ip[12], ip[13], ip[14], ip[15]],
        dst: [ip[16], ip[17], ip[18], ip[19]],
        ihl,
        total,
    })
}

fn socket(a: [u8; 4], port: &[u8]) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::from(a), u16::from_be_bytes([port[0], port[1]]))
}

/// What a TCP header says, with where its payload is in the IPv4 packet.
struct TcpHeader {
    src: SocketAddrV4,
    dst: SocketAddrV4,
    seq: u32,
    syn: bool,
    payload: (usize, usize),
}

/// The TCP segment in an IPv4 packet.
fn tcp_in_ipv4(ip: &[u8]) -> Result<TcpHeader, &'static str> {
    let Ipv4Header {
        src,
        dst,
        ihl,
        total,
    } = ipv4_transport(ip, 6)?;
    let tcp = &ip[ihl..total];
    if tcp.len() < 20 {
        return Err("TCP header truncated");
    }
    let data_offset = usize::from(tcp[12] >> 4) * 4;
    if data_offset < 20 || data_offset > tcp.len() {
        return Err("TCP header length does not match the packet");
    }
    Ok(TcpHeader {
        src: socket(src, &tcp[0..2]),
        dst: socket(dst, &tcp[2..4]),
        seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
        syn: tcp[13] & 0x02 != 0,
        payload: (ihl + data_offset, total),
    })
}

/// The IPv4 header and UDP header and payload of one datagram (checksums zero: optional for
/// UDP over IPv4, and capture readers do not check the IP one).
fn ipv4_udp_packet(src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) -> Vec<u8> {
    let total = (20 + 8 + payload.len()).min(usize::from(u16::MAX)) as u16;
    let mut p = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&src.ip().octets());
    p.extend_from_slice(&dst.ip().octets());
    p.extend_from_slice(&src.port().to_be_bytes());
    p.extend_from_slice(&dst.port().to_be_bytes());
    p.extend_from_slice(&(total - 20).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

/// Writes UDP datagrams as a classic pcap capture (Ethernet, microseconds), so that feeds
/// we produce or receive can be recorded, replayed and opened in Wireshark.
pub struct PcapWriter {
    bytes: Vec<u8>,
}

impl Default for PcapWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl PcapWriter {
    /// Starts a capture with its global header.
    pub fn new() -> Self {
        let mut bytes = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&4u16.to_le_bytes());
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&65_535u32.to_le_bytes());
        bytes.extend_from_slice(&1u32.to_le_bytes());
        PcapWriter { bytes }
    }

    /// Appends one datagram captured at `time` (Unix seconds, nanoseconds); payloads longer
    /// than a UDP datagram can carry (65,507 bytes) are refused with `false`.
    pub fn push_udp(
        &mut self,
        time: (u32, u32),
        src: SocketAddrV4,
        dst: SocketAddrV4,
        payload: &[u8],
    ) -> bool {
        if payload.len() > 65_507 {
            return false;
        }
        self.push_ipv4(time, &ipv4_udp_packet(src, dst, payload));
        true
    }

    /// Appends one TCP segment (sequence number `seq`, SYN or PSH+ACK) captured at `time`;
    /// payloads longer than an IPv4 packet can carry are refused with `false`. Lets tests
    /// record a TCP feed (Beast) as tcpdump would.
    pub fn push_tcp(
        &mut self,
        time: (u32, u32),
        (src, dst): (SocketAddrV4, SocketAddrV4),
        seq: u32,
        syn: bool,
        payload: &[u8],
    ) -> bool {
        if payload.len() > 65_495 {
            return false;
        }
        let total = (20 + 20 + payload.len()) as u16;
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&src.ip().octets());
        p.extend_from_slice(&dst.ip().octets());
        p.extend_from_slice(&src.port().to_be_bytes());
        p.extend_from_slice(&dst.port().to_be_bytes());
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0; 4]); // acknowledgement number
        p.push(5 << 4); // data offset: 20 bytes
        p.push(if syn { 0x02 } else { 0x18 });
        p.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]); // window, checksum, urgent
        p.extend_from_slice(payload);
        self.push_ipv4(time, &p);
        true
    }

    /// Appends one IPv4 packet in an Ethernet frame.
    fn push_ipv4(&mut self, time: (u32, u32), ip: &[u8]) {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(ip);
        let len = (frame.len() as u32).to_le_bytes();
        self.bytes.extend_from_slice(&time.0.to_le_bytes());
        self.bytes.extend_from_slice(&(time.1 / 1000).to_le_bytes());
        self.bytes.extend_from_slice(&len);
        self.bytes.extend_from_slice(&len);
        self.bytes.extend_from_slice(&frame);
    }

    /// The capture file's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_udp(payload: &[u8]) -> Vec<u8> {
        let src = "10.0.0.1:5000".parse().unwrap();
        ipv4_udp_packet(src, "239.1.1.1:8600".parse().unwrap(), payload)
    }

    /// A big-endian, nanosecond pcap file of `link_type` with these frames.
    fn capture(link_type: u32, frames: &[Vec<u8>]) -> Vec<u8> {
        let mut f = 0xa1b2_3c4du32.to_be_bytes().to_vec();
        f.extend_from_slice(&[0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
        f.extend_from_slice(&link_type.to_be_bytes());
        for frame in frames {
            f.extend_from_slice(&7u32.to_be_bytes());
            f.extend_from_slice(&500u32.to_be_bytes());
            f.extend_from_slice(&(frame.len() as u32).to_be_bytes());
            f.extend_from_slice(&(frame.len() as u32).to_be_bytes());
            f.extend_from_slice(frame);
        }
        f
    }

    #[test]
    fn linux_cooked_and_vlan_frames_yield_their_udp_payloads() {
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(&ipv4_udp(b"abc"));
        let file = capture(113, &[sll]);
        let got: Vec<_> = PcapReader::new(&file).unwrap().collect();
        let d = got[0].as_ref().unwrap();
        assert_eq!(d.payload, b"abc");
        assert_eq!(d.time, (7, 500));
        assert_eq!(d.dst, "239.1.1.1:8600".parse().unwrap());
        assert_eq!(&file[d.payload_offset..d.payload_offset + 3], b"abc");

        let mut vlan = vec![0u8; 12];
        vlan.extend_from_slice(&[0x81, 0x00, 0, 5, 0x08, 0x00]);
        vlan.extend_from_slice(&ipv4_udp(b"xy"));
        let mut ipv6 = vec![0u8; 12];
        ipv6.extend_from_slice(&[0x86, 0xdd, 0x60]);
        let file = capture(1, &[ipv6, vlan]);
        let got: Vec<_> = PcapReader::new(&file).unwrap().collect();
        assert!(matches!(
            got[0],
            Err(PcapError::Skipped {
                index: 0,
                reason: "not IPv4",
                ..
            })
        ));
        assert_eq!(got[1].as_ref().unwrap().payload, b"xy");
    }

    #[test]
    fn written_captures_read_back() {
        let (src, dst) = (
            "10.1.2.3:40000".parse().unwrap(),
            "232.1.1.48:8600".parse().unwrap(),
        );
        let mut w = PcapWriter::new();
        assert!(w.push_udp((1_633_608_600, 250_000_000), src, dst, b"first"));
        assert!(w.push_udp((1_633_608_601, 0), src, dst, b""));
        assert!(!w.push_udp((0, 0), src, dst, &vec![0; 70_000]));
        let file = w.into_bytes();
        let got: Vec<_> = PcapReader::new(&file)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].src, got[0].dst, got[0].payload),
            (src, dst, &b"first"[..])
        );
        assert_eq!(got[0].time, (1_633_608_600, 250_000_000));
        assert_eq!(got[1].payload, b"");
    }

    #[test]
    fn bad_files_are_errors() {
        assert_eq!(
            PcapReader::new(&[0; 10]).err(),
            Some(PcapError::TruncatedHeader)
        );
        assert!(matches!(
            PcapReader::new(&[
                0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
            ]),
            Err(PcapError::BadMagic(_))
        ));
        let mut file = capture(1, &[ipv4_udp(b"abc")]);
        file.truncate(file.len() - 2);
        let got: Vec<_> = PcapReader::new(&file).unwrap().collect();
        assert_eq!(
            got,
            vec![Err(PcapError::TruncatedRecord {
                index: 0,
                offset: 24
            })]
        );
    }
}
