//! Value encodings several categories share: big-endian integers of odd widths, two's
//! complement fields, times of day, Mode 3/A codes and the ICAO 6-bit callsign alphabet.

use super::AsterixError;
use std::fmt;

/// Unsigned big-endian integer of up to 8 bytes.
#[inline]
pub(crate) fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

/// Signed (two's complement) big-endian integer of `bits` bits taken from the low bits of
/// the bytes.
#[inline]
pub(crate) fn be_signed(bytes: &[u8], bits: u32) -> i64 {
    let shift = 64 - bits;
    ((be(bytes) << shift) as i64) >> shift
}

/// Scales a physical value to an integer count of `lsb`, checking it fits in `bits` bits
/// (signed or not), for encoding.
pub(crate) fn to_lsb(
    value: f64,
    lsb: f64,
    bits: u32,
    signed: bool,
    item: &'static str,
) -> Result<u64, AsterixError> {
    let n = (value / lsb).round();
    let (lo, hi) = if signed {
        (
            -(2f64.powi(bits as i32 - 1)),
            2f64.powi(bits as i32 - 1) - 1.0,
        )
    } else {
        (0.0, 2f64.powi(bits as i32) - 1.0)
    };
    if !(lo..=hi).contains(&n) {
        return Err(AsterixError::OutOfRange { item, value });
    }
    Ok((n as i64 as u64) & (u64::MAX >> (64 - bits)))
}

/// Writes the low `N` bytes of `v` big-endian.
#[inline]
pub(crate) fn be_bytes<const N: usize>(v: u64) -> [u8; N] {
    let all = v.to_be_bytes();
    let mut out = [0u8; N];
    out.copy_from_slice(&all[8 - N..]);
    out
}

/// Time of day in seconds from a 3-byte count of 1/128 s (I048/140, I062/070, ...).
#[inline]
pub(crate) fn tod(bytes: &[u8]) -> f64 {
    be(bytes) as f64 / 128.0
}

/// A 3-byte time of day for encoding; wraps at 24 h as the item does (2^24/128 s = 36.4 h,
/// so a time of day in [0, 86400) always fits).
pub(crate) fn tod_bytes(seconds: f64, item: &'static str) -> Result<[u8; 3], AsterixError> {
    Ok(be_bytes(to_lsb(seconds, 1.0 / 128.0, 24, false, item)?))
}

/// The System Area Code and System Identification Code that name a sensor or system
/// (I048/010, I034/010, I021/010, I062/010).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataSource {
    /// System Area Code (country or region).
    pub sac: u8,
    /// System Identification Code (the sensor or system within the area).
    pub sic: u8,
}

impl DataSource {
    /// Decodes the two bytes of the item.
    pub(crate) fn from_item(b: &[u8]) -> Self {
        DataSource {
            sac: b[0],
            sic: b[1],
        }
    }

    /// The two bytes of the item.
    pub(crate) fn to_item(self) -> [u8; 2] {
        [self.sac, self.sic]
    }
}

/// A Mode 3/A code with its validity flags, as radars and trackers report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode3A {
    /// The 12-bit code (four octal digits), e.g. `0o7000`.
    pub code: u16,
    /// False when the sensor flags the code as not validated (V bit).
    pub validated: bool,
    /// True when the sensor flags the code as garbled (G bit).
    pub garbled: bool,
}

impl Mode3A {
    /// Decodes the V/G/x/spare + 12-bit layout common to I048/070, I062/060 and I021/070.
    pub(crate) fn from_item(b: &[u8]) -> Self {
        let v = be(b) as u16;
        Mode3A {
            code: v & 0x0fff,
            validated: v & 0x8000 == 0,
            garbled: v & 0x4000 != 0,
        }
    }

    /// The two bytes of the item (the third flag bit and spare bits zero).
    pub(crate) fn to_item(self) -> [u8; 2] {
        let mut v = self.code & 0x0fff;
        if !self.validated {
            v |= 0x8000;
        }
        if self.garbled {
            v |= 0x4000;
        }
        v.to_be_bytes()
    }
}

impl fmt::Display for Mode3A {
    /// Four octal digits, as controllers write squawks.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.code)
    }
}

/// An aircraft identification (callsign) of up to 8 characters from the ICAO 6-bit alphabet,
/// stored without heap allocation so that decoding stays allocation-free.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Callsign {
    chars: [u8; 8],
    len: u8,
}

/// The ICAO Annex 10 6-bit character set (index = code); '#' marks codes with no character.
const IA5: &[u8; 64] = b"#ABCDEFGHIJKLMNOPQRSTUVWXYZ##### ###############0123456789######";

impl Callsign {
    /// Decodes the 6 bytes (8 six-bit characters) of I048/240, I021/170, I062/245; trailing
    /// spaces are dropped, codes outside the alphabet become '#'.
    pub(crate) fn from_item(b: &[u8]) -> Self {
        let v = be(b);
        let mut chars = [b' '; 8];
        for (i, c) in chars.iter_mut().enumerate() {
            *c = IA5[((v >> (42 - 6 * i)) & 0x3f) as usize];
        }
        let len = chars.iter().rposition(|&c| c != b' ').map_or(0, |p| p + 1) as u8;
        Callsign { chars, len }
    }

    /// The 6 bytes of the item, space-padded.
    pub(crate) fn to_item(self) -> [u8; 6] {
        let mut v = 0u64;
        for i in 0..8 {
            let c = if i < usize::from(self.len) {
                self.chars[i]
            } else {
                b' '
            };
            let code = IA5.iter().position(|&x| x == c && c != b'#').unwrap_or(32) as u64;
            v |= code << (42 - 6 * i);
        }
        be_bytes(v)
    }

    /// Checks a callsign for the alphabet (A-Z, 0-9, space; at most 8 characters).
    pub fn new(s: &str) -> Result<Self, AsterixError> {
        let b = s.trim_end().as_bytes();
        let ok = b.len() <= 8
            && b.iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b' ');
        if !ok {
            return Err(AsterixError::BadCallsign(s.to_string()));
        }
        let mut chars = [b' '; 8];
        chars[..b.len()].copy_from_slice(b);
        Ok(Callsign {
            chars,
            len: b.len() as u8,
        })
    }

    /// The characters, trailing spaces removed.
    pub fn as_str(&self) -> &str {
        // Only ASCII from the IA5 table is ever stored.
        std::str::from_utf8(&self.chars[..usize::from(self.len)]).unwrap_or("")
    }
}

impl fmt::Debug for Callsign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Callsign({:?})", self.as_str())
    }
}

impl fmt::Display for Callsign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callsign_round_trips_and_trims() {
        let c = Callsign::new("AFR596").unwrap();
        let d = Callsign::from_item(&c.to_item());
        assert_eq!(d.as_str(), "AFR596");
        assert!(Callsign::new("afr").is_err());
        assert!(Callsign::new("ABCDEFGHI").is_err());
    }

    #[test]
    fn signed_fields_sign_extend() {
        assert_eq!(be_signed(&[0xff, 0xfd], 16), -3);
        assert_eq!(be_signed(&[0x3f, 0xff], 14), -1);
        assert_eq!(be_signed(&[0x1f, 0xff], 14), 0x1fff);
        assert_eq!(to_lsb(-0.75, 0.25, 16, true, "x").unwrap(), 0xfffd);
        assert!(to_lsb(1e9, 0.25, 16, true, "x").is_err());
    }
}
