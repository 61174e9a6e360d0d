//! Byte-level ASTERIX structure shared by every category: datablocks, the FSPEC, items framed
//! by their kind, and the writers that produce them. Nothing here knows what an item means.

use super::AsterixError;

/// How an item (or a compound item's subfield) says how long it is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// Always this many bytes.
    Fixed(usize),
    /// Parts of this many bytes, each ending in an FX bit (bit 1) saying another follows.
    Extended(usize),
    /// A one-byte repetition count, then that many parts of this many bytes.
    Repetitive(usize),
    /// A primary subfield (FX-extended presence bits), then the present subfields in order.
    Compound(&'static [Kind]),
    /// A length byte counting itself, then the rest (RE and SP fields).
    Explicit,
    /// Not defined: if announced, the record cannot be framed.
    Spare,
}

/// One entry of a User Application Profile: the item at a field reference number.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ItemDef {
    /// Item name for error messages, e.g. "I048/040".
    pub name: &'static str,
    /// How its length is found.
    pub kind: Kind,
}

/// Shorthand for UAP tables.
pub(crate) const fn item(name: &'static str, kind: Kind) -> ItemDef {
    ItemDef { name, kind }
}

/// Walks concatenated datablocks, yielding (category, body, absolute offset of the body).
pub(crate) struct Datablocks<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Datablocks<'a> {
    pub(crate) fn new(data: &'a [u8], base: usize) -> Self {
        Datablocks { data, pos: 0, base }
    }
}

impl<'a> Iterator for Datablocks<'a> {
    type Item = Result<(u8, &'a [u8], usize), AsterixError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.data.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        let offset = self.base + self.pos;
        // Any error here leaves nothing to frame the next block with: stop after reporting.
        self.pos = self.data.len();
        let [cat, hi, lo, ..] = *rest else {
            return Some(Err(AsterixError::TruncatedHeader {
                offset,
                available: rest.len(),
            }));
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len < 3 {
            return Some(Err(AsterixError::BlockTooShort { offset, len }));
        }
        if len > rest.len() {
            return Some(Err(AsterixError::BlockOverrun {
                offset,
                len,
                available: rest.len(),
            }));
        }
        self.pos = offset - self.base + len;
        Some(Ok((cat, &rest[3..len], offset + 3)))
    }
}

/// Takes `n` bytes at `pos` of `data`, or says what was truncated.
#[inline]
fn take<'a>(
    data: &'a [u8],
    pos: usize,
    n: usize,
    base: usize,
    what: &'static str,
) -> Result<&'a [u8], AsterixError> {
    data.get(pos..pos.saturating_add(n))
        .filter(|s| s.len() == n)
        .ok_or(AsterixError::Truncated {
            offset: base + pos,
            what,
            needed: n,
            available: data.len().saturating_sub(pos),
        })
}

/// Reads FX-chained presence octets (an FSPEC or a compound primary subfield) at `pos`:
/// returns the presence bits (bit `i` = number `i + 1`, FX bits removed) and the octet count.
/// More than `max_octets` octets is the error `too_long` makes.
#[inline]
fn presence(
    data: &[u8],
    pos: usize,
    base: usize,
    what: &'static str,
    max_octets: usize,
    too_long: impl FnOnce() -> AsterixError,
) -> Result<(u64, usize), AsterixError> {
    let mut bits = 0u64;
    let mut n = 0;
    loop {
        let octet = take(data, pos + n, 1, base, what)?[0];
        if n == max_octets {
            return Err(too_long());
        }
        // Number 7n+1 is the octet's most significant bit; bit 1 is FX.
        let seven = (octet >> 1).reverse_bits() >> 1;
        bits |= u64::from(seven) << (7 * n);
        n += 1;
        if octet & 1 == 0 {
            return Ok((bits, n));
        }
    }
}

/// The length of an item of `kind` starting at `pos`.
fn item_len(
    kind: Kind,
    data: &[u8],
    pos: usize,
    base: usize,
    name: &'static str,
) -> Result<usize, AsterixError> {
    Ok(match kind {
        Kind::Fixed(n) => {
            take(data, pos, n, base, name)?;
            n
        }
        Kind::Extended(part) => {
            let mut n = 0;
            loop {
                let last = take(data, pos + n, part, base, name)?.last().copied();
                n += part;
                if last.unwrap_or(0) & 1 == 0 {
                    break n;
                }
            }
        }
        Kind::Repetitive(part) => {
            let count = usize::from(take(data, pos, 1, base, name)?[0]);
            take(data, pos + 1, count * part, base, name)?;
            1 + count * part
        }
        Kind::Explicit => {
            let n = usize::from(take(data, pos, 1, base, name)?[0]);
            if n == 0 {
                return Err(AsterixError::BadExplicitLength {
                    offset: base + pos,
                    item: name,
                });
            }
            take(data, pos, n, base, name)?;
            n
        }
        Kind::Compound(subs) => walk_compound(subs, data, pos, base, name, |_, _| {})?,
        Kind::Spare => {
            return Err(AsterixError::UndefinedSubfield {
                offset: base + pos,
                item: name,
                sub: 0,
            });
        }
    })
}

/// Walks a compound item at `pos`, calling `f(subfield number, bytes)` for each present
/// subfield in order. Returns the item's total length.
fn walk_compound<'a>(
    subs: &'static [Kind],
    data: &'a [u8],
    pos: usize,
    base: usize,
    name: &'static str,
    mut f: impl FnMut(usize, &'a [u8]),
) -> Result<usize, AsterixError> {
    let max_octets = subs.len().div_ceil(7);
    let (bits, octets) = presence(data, pos, base, name, max_octets, || {
        AsterixError::UndefinedSubfield {
            offset: base + pos,
            item: name,
            sub: max_octets * 7 + 1,
        }
    })?;
    let mut at = pos + octets;
    let mut rest = bits;
    while rest != 0 {
        let i = rest.trailing_zeros() as usize;
        rest &= rest - 1;
        let kind = match subs.get(i) {
            Some(Kind::Spare) | None => {
                return Err(AsterixError::UndefinedSubfield {
                    offset: base + pos,
                    item: name,
                    sub: i + 1,
                });
            }
            Some(&k) => k,
        };
        let n = item_len(kind, data, at, base, name)?;
        f(i + 1, &data[at..at + n]);
        at += n;
    }
    Ok(at - pos)
}

/// Calls `f(subfield number, bytes)` for every present subfield of a compound item already
/// framed as `item` (as handed to a category decoder).
pub(crate) fn subfields<'a>(
    subs: &'static [Kind],
    item: &'a [u8],
    name: &'static str,
    f: impl FnMut(usize, &'a [u8]),
) -> Result<(), AsterixError> {
    walk_compound(subs, item, 0, 0, name, f).map(|_| ())
}

/// Frames one record of a category at `pos` of a datablock body, calling `f(frn, item bytes)`
/// for every present item in FRN order. `base` is the body's absolute offset (for errors).
/// Returns the position after the record.
pub(crate) fn frame_record<'a>(
    cat: u8,
    uap: &'static [ItemDef],
    data: &'a [u8],
    pos: usize,
    base: usize,
    mut f: impl FnMut(usize, &'a [u8]) -> Result<(), AsterixError>,
) -> Result<usize, AsterixError> {
    let max = uap.len().div_ceil(7);
    let (bits, octets) = presence(data, pos, base, "FSPEC", max, || {
        AsterixError::FspecTooLong {
            offset: base + pos,
            cat,
            max,
        }
    })?;
    if bits == 0 {
        return Err(AsterixError::EmptyRecord { offset: base + pos });
    }
    let mut at = pos + octets;
    let mut rest = bits;
    while rest != 0 {
        let i = rest.trailing_zeros() as usize;
        rest &= rest - 1;
        let def = match uap.get(i) {
            Some(d) if !matches!(d.kind, Kind::Spare) => d,
            _ => {
                return Err(AsterixError::UndefinedItem {
                    offset: base + pos,
                    cat,
                    frn: i + 1,
                });
            }
        };
        let n = item_len(def.kind, data, at, base, def.name)?;
        f(i + 1, &data[at..at + n])?;
        at += n;
    }
    Ok(at)
}

/// Builds one record: items are appended in FRN order, the FSPEC is inserted in front when
/// the record is finished. Writes straight into the caller's buffer.
pub struct RecordWriter<'o> {
    out: &'o mut Vec<u8>,
    start: usize,
    fspec: u64,
    last_frn: usize,
}

impl<'o> RecordWriter<'o> {
    /// Starts a record at the end of `out`.
    pub fn new(out: &'o mut Vec<u8>) -> Self {
        let start = out.len();
        RecordWriter {
            out,
            start,
            fspec: 0,
            last_frn: 0,
        }
    }

    /// Appends item `frn` (1-based, strictly increasing between calls) with these bytes.
    pub(crate) fn item(&mut self, frn: usize, bytes: &[u8]) {
        debug_assert!(frn > self.last_frn && frn <= 56, "FRNs must increase");
        self.last_frn = frn;
        self.fspec |= 1 << (frn - 1);
        self.out.extend_from_slice(bytes);
    }

    /// Removes what was written of this record (after an encoding error).
    pub(crate) fn abandon(self) {
        self.out.truncate(self.start);
    }

    /// Runs `write` (which appends items) and finishes the record, or removes it if `write`
    /// fails, so a rejected value never leaves half a record in the buffer.
    pub(crate) fn build(
        mut self,
        write: impl FnOnce(&mut Self) -> Result<(), AsterixError>,
    ) -> Result<(), AsterixError> {
        match write(&mut self) {
            Ok(()) => {
                self.finish();
                Ok(())
            }
            Err(e) => {
                self.abandon();
                Err(e)
            }
        }
    }

    /// Inserts the FSPEC in front of the items.
    pub(crate) fn finish(self) {
        let octets = (64 - self.fspec.leading_zeros() as usize)
            .div_ceil(7)
            .max(1);
        let mut fspec = [0u8; 8];
        for (n, byte) in fspec.iter_mut().enumerate().take(octets) {
            let bits = ((self.fspec >> (7 * n)) & 0x7f) as u8;
            // FRN 7n+1 is the most significant bit of octet n.
            *byte = (bits.reverse_bits()) | u8::from(n + 1 < octets);
        }
        let fspec = &fspec[..octets];
        self.out
            .splice(self.start..self.start, fspec.iter().copied());
    }
}

/// Builds one datablock of records of one category; the length is patched in at the end.
pub struct DatablockWriter<'o> {
    out: &'o mut Vec<u8>,
    start: usize,
}

impl<'o> DatablockWriter<'o> {
    /// Starts a datablock of category `cat` at the end of `out`.
    pub fn new(out: &'o mut Vec<u8>, cat: u8) -> Self {
        let start = out.len();
        out.extend_from_slice(&[cat, 0, 0]);
        DatablockWriter { out, start }
    }

    /// A record writer appending to this datablock.
    pub fn record(&mut self) -> RecordWriter<'_> {
        RecordWriter::new(self.out)
    }

    /// Patches the length field; fails (and removes the block) if it exceeds 65,535 bytes.
    pub fn finish(self) -> Result<(), AsterixError> {
        let len = self.out.len() - self.start;
        match u16::try_from(len) {
            Ok(l) => {
                self.out[self.start + 1..self.start + 3].copy_from_slice(&l.to_be_bytes());
                Ok(())
            }
            Err(_) => {
                self.out.truncate(self.start);
                Err(AsterixError::BlockTooLarge { len })
            }
        }
    }
}

/// Encodes `records` as one datablock of category `cat` appended to `out` with `encode`
/// writing each record; on error nothing is appended.
pub(crate) fn encode_block<T>(
    cat: u8,
    records: &[T],
    out: &mut Vec<u8>,
    encode: impl Fn(&T, RecordWriter<'_>) -> Result<(), AsterixError>,
) -> Result<(), AsterixError> {
    let start = out.len();
    let mut block = DatablockWriter::new(out, cat);
    for r in records {
        if let Err(e) = encode(r, block.record()) {
            block.out.truncate(start);
            return Err(e);
        }
    }
    block.finish()
}
