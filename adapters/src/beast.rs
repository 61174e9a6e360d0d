//! The Beast binary framing of dump1090, readsb and most Mode S receivers (TCP port 30005).
//!
//! Every frame is `0x1a`, a type byte (`'1'` Mode A/C, `'2'` Mode S short, `'3'` Mode S long),
//! a 6-byte big-endian MLAT timestamp (a 12 MHz counter of the receiver), a signal-level byte
//! and the 2, 7 or 14 message bytes. A `0x1a` inside the timestamp, signal or message is sent
//! twice. Owning this small part (instead of the async TCP source of `rs1090`) lets the same
//! code read a socket, a file and a fuzzer's input, synchronously and without allocation.
//!
//! A stream is cut anywhere by TCP, so [`BeastReader`] keeps the tail of an incomplete frame
//! for the next read. Bytes that cannot be framed are reported ([`BeastError`]) and skipped up
//! to the next frame start; one bad frame never loses the following ones.

/// Frequency of the MLAT timestamp counter of dump1090/readsb receivers (Hz).
pub const MLAT_TICKS_PER_S: f64 = 12e6;

/// The escape and frame-start byte.
const ESC: u8 = 0x1a;

/// Longest frame on the wire: start, type, then 6 + 1 + 14 bytes each possibly doubled.
pub const MAX_FRAME_BYTES: usize = 2 + 2 * (6 + 1 + 14);

/// What a Beast frame carries, from its type byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeastKind {
    /// `'1'`: a Mode A/C reply, 2 bytes.
    ModeAc,
    /// `'2'`: a Mode S short frame, 7 bytes (56 bits).
    ModeSShort,
    /// `'3'`: a Mode S long frame, 14 bytes (112 bits), e.g. ADS-B DF17/18.
    ModeSLong,
}

impl BeastKind {
    /// The kind of type byte `b`, if it is one this module frames.
    pub fn from_type_byte(b: u8) -> Option<Self> {
        match b {
            b'1' => Some(Self::ModeAc),
            b'2' => Some(Self::ModeSShort),
            b'3' => Some(Self::ModeSLong),
            _ => None,
        }
    }

    /// The type byte on the wire.
    pub fn type_byte(self) -> u8 {
        match self {
            Self::ModeAc => b'1',
            Self::ModeSShort => b'2',
            Self::ModeSLong => b'3',
        }
    }

    /// Number of message bytes of this kind.
    pub fn message_len(self) -> usize {
        match self {
            Self::ModeAc => 2,
            Self::ModeSShort => 7,
            Self::ModeSLong => 14,
        }
    }
}

/// One received frame: the message bytes with the receiver's timestamp and signal level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeastFrame {
    /// What the frame carries.
    pub kind: BeastKind,
    /// The receiver's 48-bit MLAT counter at reception (12 MHz on dump1090/readsb); not an
    /// absolute time, but monotonic for one receiver.
    pub mlat_ticks: u64,
    /// Signal level, 0-255: the square root of the received power scaled to 255 at full scale.
    pub signal: u8,
    bytes: [u8; 14],
}

impl BeastFrame {
    /// A frame of `kind` carrying `message`.
    ///
    /// # Errors
    ///
    /// [`BeastError::MessageLength`] if `message` is not as long as `kind` requires, or the
    /// timestamp does not fit in 48 bits.
    pub fn new(
        kind: BeastKind,
        mlat_ticks: u64,
        signal: u8,
        message: &[u8],
    ) -> Result<Self, BeastError> {
        if message.len() != kind.message_len() || mlat_ticks >= 1 << 48 {
            return Err(BeastError::MessageLength {
                offset: 0,
                len: message.len(),
            });
        }
        let mut bytes = [0; 14];
        bytes[..message.len()].copy_from_slice(message);
        Ok(Self {
            kind,
            mlat_ticks,
            signal,
            bytes,
        })
    }

    /// The Mode A/C or Mode S message bytes (2, 7 or 14).
    pub fn message(&self) -> &[u8] {
        &self.bytes[..self.kind.message_len()]
    }

    /// The MLAT timestamp in seconds of the receiver's counter.
    pub fn mlat_s(&self) -> f64 {
        self.mlat_ticks as f64 / MLAT_TICKS_PER_S
    }

    /// The signal level in dB relative to full scale (`20 log10(signal / 255)`); `None` for 0.
    pub fn signal_dbfs(&self) -> Option<f32> {
        (self.signal > 0).then(|| 20.0 * (f32::from(self.signal) / 255.0).log10())
    }

    /// Appends the frame in Beast framing (escaping every `0x1a`) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(ESC);
        out.push(self.kind.type_byte());
        let ts = self.mlat_ticks.to_be_bytes();
        for &b in ts[2..]
            .iter()
            .chain([self.signal].iter())
            .chain(self.message())
        {
            out.push(b);
            if b == ESC {
                out.push(ESC);
            }
        }
    }
}

/// Why bytes could not be framed. Offsets count from the first byte given to the reader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BeastError {
    /// Bytes before the next frame start (`0x1a`): the stream was joined mid-frame, or is
    /// not Beast at all.
    #[error("byte {offset}: {len} bytes outside any frame skipped")]
    OutOfSync {
        /// First skipped byte.
        offset: u64,
        /// Bytes skipped.
        len: usize,
    },
    /// A type byte this module does not frame (e.g. readsb's receiver-id `0xe3`, `'4'`).
    #[error("byte {offset}: frame type {kind:#04x} is not Mode A/C or Mode S (skipped)")]
    UnknownType {
        /// The frame start.
        offset: u64,
        /// The type byte.
        kind: u8,
    },
    /// A lone `0x1a` inside a frame: the frame was cut short and a new one starts there.
    #[error("byte {offset}: frame cut short after {len} bytes by a new frame start")]
    Truncated {
        /// The frame start.
        offset: u64,
        /// Bytes of the cut frame.
        len: usize,
    },
    /// A message of the wrong length for its kind (building frames only).
    #[error("byte {offset}: message of {len} bytes does not fit its frame type")]
    MessageLength {
        /// Where the frame starts (0 when building one).
        offset: u64,
        /// The message length given.
        len: usize,
    },
}

/// What one attempt to frame the start of a buffer found.
enum Step {
    /// A frame, and the bytes it took.
    Frame(BeastFrame, usize),
    /// Bytes to drop, and why.
    Skip(BeastError, usize),
    /// The buffer ends inside a frame: wait for more bytes.
    Incomplete,
}

/// Frames the start of `buf`, whose first byte is at stream offset `offset`.
fn step(buf: &[u8], offset: u64) -> Step {
    let Some(&first) = buf.first() else {
        return Step::Incomplete;
    };
    if first != ESC {
        let len = buf.iter().position(|&b| b == ESC).unwrap_or(buf.len());
        return Step::Skip(BeastError::OutOfSync { offset, len }, len);
    }
    let Some(&type_byte) = buf.get(1) else {
        return Step::Incomplete;
    };
    let Some(kind) = BeastKind::from_type_byte(type_byte) else {
        // `1a 1a` outside a frame is an escaped byte of a frame we joined late: skip both.
        let err = BeastError::UnknownType {
            offset,
            kind: type_byte,
        };
        return Step::Skip(err, 2);
    };
    let want = 6 + 1 + kind.message_len();
    let mut body = [0u8; 6 + 1 + 14];
    let mut n = 0;
    let mut i = 2;
    while n < want {
        match (buf.get(i), buf.get(i + 1)) {
            (None, _) => return Step::Incomplete,
            (Some(&ESC), Some(&ESC)) => {
                body[n] = ESC;
                i += 2;
            }
            (Some(&ESC), None) => return Step::Incomplete,
            (Some(&ESC), Some(_)) => {
                return Step::Skip(BeastError::Truncated { offset, len: i }, i);
            }
            (Some(&b), _) => {
                body[n] = b;
                i += 1;
            }
        }
        n += 1;
    }
    let mut ts = [0u8; 8];
    ts[2..].copy_from_slice(&body[..6]);
    let mut bytes = [0u8; 14];
    bytes[..kind.message_len()].copy_from_slice(&body[7..want]);
    let frame = BeastFrame {
        kind,
        mlat_ticks: u64::from_be_bytes(ts),
        signal: body[6],
        bytes,
    };
    Step::Frame(frame, i)
}

/// Frames a Beast byte stream that arrives in pieces (TCP reads, file chunks).
///
/// Feed bytes with [`BeastReader::push`], then take results with [`BeastReader::next`] until
/// it returns `None`. At most one incomplete frame ([`MAX_FRAME_BYTES`]) stays buffered.
#[derive(Debug, Default)]
pub struct BeastReader {
    buf: Vec<u8>,
    start: usize,
    /// Stream offset of `buf[start]`.
    offset: u64,
}

impl BeastReader {
    /// An empty reader at stream offset 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Forgets buffered bytes (after a reconnect, the stream starts afresh).
    pub fn reset(&mut self) {
        self.offset += (self.buf.len() - self.start) as u64;
        self.buf.clear();
        self.start = 0;
    }

    /// Bytes waiting for the rest of their frame.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next frame or framing error; `None` when the buffered bytes hold no complete frame.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<BeastFrame, BeastError>> {
        let rest = &self.buf[self.start..];
        let (result, used) = match step(rest, self.offset) {
            Step::Incomplete => return None,
            Step::Frame(f, used) => (Ok(f), used),
            Step::Skip(e, used) => (Err(e), used),
        };
        self.start += used;
        self.offset += used as u64;
        Some(result)
    }
}

/// Frames a complete buffer (a recording): every frame and framing error in order. A frame
/// cut by the end of the buffer is reported as [`BeastError::Truncated`].
pub fn frames(data: &[u8]) -> impl Iterator<Item = Result<BeastFrame, BeastError>> + '_ {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        let rest = data.get(pos..).filter(|r| !r.is_empty())?;
        let (result, used) = match step(rest, pos as u64) {
            Step::Frame(f, used) => (Ok(f), used),
            Step::Skip(e, used) => (Err(e), used),
            Step::Incomplete => (
                Err(BeastError::Truncated {
                    offset: pos as u64,
                    len: rest.len(),
                }),
                rest.len(),
            ),
        };
        pos += used;
        Some(result)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long(ticks: u64, signal: u8, fill: u8) -> BeastFrame {
        BeastFrame::new(BeastKind::ModeSLong, ticks, signal, &[fill; 14]).expect("frame")
    }

    #[test]
    fn escapes_round_trip_in_any_split() {
        let frames = [
            long(0x1a_1a00_001a, 0x1a, 0x1a),
            BeastFrame::new(BeastKind::ModeAc, 5, 9, &[0x12, 0x1a]).expect("frame"),
            BeastFrame::new(BeastKind::ModeSShort, 1 << 40, 200, &[0x5d; 7]).expect("frame"),
        ];
        let mut wire = Vec::new();
        for f in &frames {
            f.encode(&mut wire);
        }
        for cut in 0..wire.len() {
            let mut r = BeastReader::new();
            let mut got = Vec::new();
            for piece in [&wire[..cut], &wire[cut..]] {
                r.push(piece);
                while let Some(x) = r.next() {
                    got.push(x.expect("clean stream"));
                }
            }
            assert_eq!(got, frames, "split at {cut}");
            assert_eq!(r.buffered(), 0);
        }
        let all: Vec<_> = frames_of(&wire);
        assert_eq!(all, frames);
    }

    fn frames_of(data: &[u8]) -> Vec<BeastFrame> {
        frames(data).filter_map(Result::ok).collect()
    }

    #[test]
    fn garbage_cut_frames_and_unknown_types_are_skipped() {
        let good = long(77, 10, 0x8d);
        let mut wire = vec![0x00, 0x42];
        wire.extend_from_slice(&[ESC, b'3', 0, 0, 0]); // cut by the next frame start
        wire.extend_from_slice(&[ESC, 0xe3, 1, 2]); // receiver id: unknown type, then junk
        good.encode(&mut wire);
        wire.extend_from_slice(&[ESC, b'2', 1]); // cut by the end of the recording
        let results: Vec<_> = frames(&wire).collect();
        assert_eq!(
            results,
            vec![
                Err(BeastError::OutOfSync { offset: 0, len: 2 }),
                Err(BeastError::Truncated { offset: 2, len: 5 }),
                Err(BeastError::UnknownType {
                    offset: 7,
                    kind: 0xe3
                }),
                Err(BeastError::OutOfSync { offset: 9, len: 2 }),
                Ok(good),
                Err(BeastError::Truncated {
                    offset: wire.len() as u64 - 3,
                    len: 3
                }),
            ]
        );
    }

    #[test]
    fn timestamp_signal_and_lengths() {
        let f = long(24_000_000, 255, 0);
        assert_eq!(f.mlat_s(), 2.0);
        assert_eq!(f.signal_dbfs(), Some(0.0));
        assert_eq!(long(0, 0, 0).signal_dbfs(), None);
        assert!(BeastFrame::new(BeastKind::ModeSShort, 0, 0, &[0; 14]).is_err());
        assert!(BeastFrame::new(BeastKind::ModeAc, 1 << 48, 0, &[0; 2]).is_err());
        let mut wire = Vec::new();
        long(0x1a1a_1a1a_1a1a, 0x1a, 0x1a).encode(&mut wire);
        assert_eq!(wire.len(), MAX_FRAME_BYTES);
    }
}
