//! Recordings of sensor traffic (pcap of ASTERIX over UDP, pcap of Beast over TCP, raw
//! ASTERIX, raw Beast) turned into captures, so that a real-world recording replays like a recording of the daemon's inputs.
//!
//! The conversion is the live adapters' own ([`FeedDecoder`] of `asterix-in`, [`BeastPlots`]
//! of `beast-in`), fed with the recording's time instead of the wall clock: a capture made by
//! import holds exactly the messages the adapter would have published on
//! `iapz/in/plots/<sensor>` (and `iapz/in/tracks/<source>` for CAT062), each stamped with
//! the packet's capture time (pcap), the data time of the message (raw ASTERIX) or the
//! receiver's 12 MHz counter from `start` (Beast).
//!
//! Data times are counted from the run epoch: `[daemon] epoch_unix_ns` of the configuration
//! when set, otherwise the UTC midnight before the first packet (pcap) or of `day` (raw
//! ASTERIX, default 1970-01-01), so that `t` is the ASTERIX time of day. Beast frames carry no
//! absolute time: their `t` counts from `start` (default: the epoch).

use super::CaptureError;
use super::writer::{CaptureOptions, CaptureWriter, WriteSummary};
use anyhow::{Context, Result, bail};
use iapz_adapters::asterix::{DataSource, Decoder, Record};
use iapz_adapters::beast::frames;
use iapz_adapters::live::asterix_in::{FeedDecoder, plot_batch_message, track_feed_message};
use iapz_adapters::live::beast_in::{BeastPlots, framing_reason};
use iapz_adapters::live::clock::{DAY_NS, TodClock};
use iapz_adapters::live::counters::{Counters, CountsSnapshot};
use iapz_adapters::live::scan::{ScanBatch, ScanBatcher};
use iapz_adapters::pcap::{PcapError, PcapReader};
use iapz_adapters::tcp_stream::{TcpStream, rebuild};
use iapz_proto::{keys, t_to_unix_ns, v1};
use prost::Message;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the recording is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// ASTERIX datablocks back to back (a `.ast` / `.raw` file), one datablock per datagram.
    Asterix,
    /// A Beast binary stream as dump1090/readsb send it on TCP 30005: the raw stream, or a
    /// pcap of its TCP segments (the stream is rebuilt).
    Beast,
    /// A classic pcap of UDP datagrams carrying ASTERIX (or, holding no UDP datagram, of a
    /// Beast feed's TCP segments).
    Pcap,
}

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The recording's format.
    pub format: ImportFormat,
    /// Sensor id the plots are published for (declared in the replaying configuration).
    pub sensor: String,
    /// Source id of CAT062 tracks in the recording.
    pub track_source: String,
    /// Only records of this SAC/SIC (ASTERIX); `None`: all.
    pub source_filter: Option<DataSource>,
    /// Run epoch (ns since 1970); `None`: see the module documentation.
    pub epoch_unix_ns: Option<i64>,
    /// UTC midnight (ns since 1970) the times of day of a raw ASTERIX file count from.
    pub day_unix_ns: Option<i64>,
    /// Time (ns since 1970) of a Beast recording's first frame.
    pub start_unix_ns: Option<i64>,
    /// Receiver position (lat, lon deg) of a Beast recording: lets surface positions decode.
    pub reference: Option<(f64, f64)>,
}

impl ImportOptions {
    /// Defaults for a recording of `format` from `sensor`.
    pub fn new(format: ImportFormat, sensor: &str) -> Self {
        Self {
            format,
            sensor: sensor.to_string(),
            track_source: sensor.to_string(),
            source_filter: None,
            epoch_unix_ns: None,
            day_unix_ns: None,
            start_unix_ns: None,
            reference: None,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportSummary {
    /// Plot batches written.
    pub plot_batches: u64,
    /// Plots in them.
    pub plots: u64,
    /// Track feed messages written.
    pub feeds: u64,
    /// The run epoch of the data times (ns since 1970).
    pub epoch_unix_ns: i64,
    /// The adapter's counts: frames in, decoded, rejected by reason.
    pub counts: CountsSnapshot,
    /// Packets of a pcap that carried no usable UDP datagram.
    pub packets_skipped: u64,
    /// The capture written.
    pub written: WriteSummary,
}

/// Same batch closing as `asterix-in` (`--flush-after-s 2`, 4,096 plots).
const FLUSH_AFTER: Duration = Duration::from_secs(2);
const MAX_BATCH: usize = 4096;
/// Same batch period as `beast-in`.
const BEAST_BATCH_S: f64 = 1.0;

/// Writes the messages into the capture with their receive times, counting them.
struct Sink {
    writer: CaptureWriter,
    sensor: String,
    track_source: String,
    plot_sequence: u64,
    feed_sequence: u64,
    plot_batches: u64,
    plots: u64,
    feeds: u64,
}

impl Sink {
    fn put(&mut self, key: String, payload: Vec<u8>, at_ns: i64) -> Result<(), CaptureError> {
        self.writer.write(&v1::CaptureSample {
            receive_unix_ns: at_ns,
            key_expr: key,
            encoding: zenoh::bytes::Encoding::ZENOH_BYTES.to_string(),
            payload,
        })
    }

    fn batch(&mut self, b: ScanBatch, at_ns: i64) -> Result<(), CaptureError> {
        self.plot_sequence += 1;
        self.plot_batches += 1;
        self.plots += b.plots.len() as u64;
        let msg = plot_batch_message(&self.sensor, self.plot_sequence, b);
        self.put(keys::plots_in(&self.sensor), msg.encode_to_vec(), at_ns)
    }

    fn tracks(&mut self, tracks: Vec<v1::SourceTrack>, epoch: i64, at_ns: i64) -> Result<()> {
        if tracks.is_empty() {
            return Ok(());
        }
        self.feed_sequence += 1;
        self.feeds += 1;
        let msg = track_feed_message(&self.track_source, self.feed_sequence, tracks, epoch);
        Ok(self.put(
            keys::tracks_in(&self.track_source),
            msg.encode_to_vec(),
            at_ns,
        )?)
    }
}

/// Imports the recording `input` into the capture `out`.
pub fn import(input: &Path, out: &Path, opts: &ImportOptions) -> Result<ImportSummary> {
    let data = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let format_name = match opts.format {
        ImportFormat::Asterix => "asterix",
        ImportFormat::Beast => "beast",
        ImportFormat::Pcap => "pcap",
    };
    // A Beast feed recorded with tcpdump: a pcap of TCP segments (asked for as `beast`, or as
    // `pcap` when the capture holds no UDP datagram to read as ASTERIX).
    let beast_pcap = match opts.format {
        ImportFormat::Beast if PcapReader::new(&data).is_ok() => {
            Some(beast_from_pcap(&data, input)?)
        }
        ImportFormat::Pcap if tcp_only(&data) => Some(beast_from_pcap(&data, input)?),
        _ => None,
    };
    let format = if beast_pcap.is_some() {
        ImportFormat::Beast
    } else {
        opts.format
    };
    let pcap = match format {
        ImportFormat::Pcap => {
            Some(PcapReader::new(&data).with_context(|| format!("{}: pcap", input.display()))?)
        }
        _ => None,
    };
    let first_packet_ns = match (&pcap, &beast_pcap) {
        (Some(_), _) => PcapReader::new(&data)
            .ok()
            .and_then(|mut p| p.find_map(|d| d.ok()).map(|d| packet_ns(d.time))),
        (None, Some(stream)) => stream.first_time.map(packet_ns),
        (None, None) => None,
    };
    let epoch = opts.epoch_unix_ns.unwrap_or_else(|| match first_packet_ns {
        Some(ns) => ns - ns.rem_euclid(DAY_NS),
        None => opts.day_unix_ns.unwrap_or(0),
    });
    let mut capture_opts = CaptureOptions::new(
        vec![
            keys::plots_in(&opts.sensor),
            keys::tracks_in(&opts.track_source),
        ],
        &format!(
            "iapzd capture import --format {format_name} {}",
            input.display()
        ),
    );
    capture_opts.epoch_unix_ns = epoch;
    let mut sink = Sink {
        writer: CaptureWriter::create(out, capture_opts)?,
        sensor: opts.sensor.clone(),
        track_source: opts.track_source.clone(),
        plot_sequence: 0,
        feed_sequence: 0,
        plot_batches: 0,
        plots: 0,
        feeds: 0,
    };
    let counters = Arc::new(Counters::new("capture-import"));
    let mut packets_skipped = 0;
    match (format, pcap) {
        (ImportFormat::Pcap, Some(reader)) => {
            let first = first_packet_ns.unwrap_or(epoch);
            let clock = TodClock::live(epoch, first);
            let mut decoder = asterix_decoder(clock, opts, &counters);
            let base = Instant::now();
            let mut last_ns = first;
            for d in reader {
                let d = match d {
                    Ok(d) => d,
                    Err(e @ PcapError::TruncatedRecord { .. }) => {
                        tracing::warn!("{}: {e}", input.display());
                        packets_skipped += 1;
                        break;
                    }
                    Err(e) => {
                        tracing::debug!("{}: {e}", input.display());
                        packets_skipped += 1;
                        continue;
                    }
                };
                let at = packet_ns(d.time).max(last_ns);
                last_ns = at;
                let now = base + Duration::from_nanos((at - first).unsigned_abs());
                if let Some(b) = decoder.poll_timeout(now) {
                    sink.batch(b, at)?;
                }
                let out = decoder.datagram(d.payload, now);
                for b in out.batches {
                    sink.batch(b, at)?;
                }
                sink.tracks(out.tracks, epoch, at)?;
            }
            if let Some(b) = decoder.finish() {
                sink.batch(b, last_ns)?;
            }
        }
        (ImportFormat::Asterix, _) => {
            let day = opts.day_unix_ns.unwrap_or(epoch - epoch.rem_euclid(DAY_NS));
            let mut decoder = asterix_decoder(TodClock::new(epoch, day), opts, &counters);
            // No packet times: a datablock arrives at the newest time of day in it (or the
            // newest seen so far), read with a clock of its own.
            let mut block_clock = TodClock::new(epoch, day);
            let base = Instant::now();
            let (mut first_t, mut last_t) = (None::<f64>, f64::NEG_INFINITY);
            for block in datablocks(&data) {
                let newest = Decoder::new(block)
                    .filter_map(|d| d.ok().and_then(|d| record_tod(&d.record)))
                    .filter_map(|tod| block_clock.t(tod))
                    .fold(f64::NEG_INFINITY, f64::max);
                last_t = last_t.max(newest);
                let (now, at) = if last_t.is_finite() {
                    let t0 = *first_t.get_or_insert(last_t);
                    let since = Duration::from_secs_f64((last_t - t0).clamp(0.0, 1e9));
                    (base + since, t_to_unix_ns(epoch, last_t))
                } else {
                    (base, epoch)
                };
                if let Some(b) = decoder.poll_timeout(now) {
                    sink.batch(b, at)?;
                }
                let out = decoder.datagram(block, now);
                for b in out.batches {
                    sink.batch(b, at)?;
                }
                sink.tracks(out.tracks, epoch, at)?;
            }
            if let Some(b) = decoder.finish() {
                let at = t_to_unix_ns(epoch, b.scan_time.max(last_t));
                sink.batch(b, at)?;
            }
        }
        (ImportFormat::Beast, _) => {
            let start = opts.start_unix_ns.or(first_packet_ns).unwrap_or(epoch);
            let bytes = beast_pcap.as_ref().map_or(&data[..], |s| &s.bytes[..]);
            import_beast(bytes, start, epoch, opts, &counters, &mut sink)?;
        }
        (ImportFormat::Pcap, None) => bail!("pcap reader missing"),
    }
    let Sink {
        writer,
        plot_batches,
        plots,
        feeds,
        ..
    } = sink;
    Ok(ImportSummary {
        plot_batches,
        plots,
        feeds,
        epoch_unix_ns: epoch,
        counts: counters.snapshot(),
        packets_skipped,
        written: writer.finish()?,
    })
}

/// Whether `data` is a pcap with no UDP datagram at all: a recording of a TCP feed (Beast).
fn tcp_only(data: &[u8]) -> bool {
    PcapReader::new(data).is_ok_and(|mut p| !p.any(|d| d.is_ok()))
}

/// Whether the file at `path` is a pcap holding no UDP datagram (`--format pcap` then reads
/// it as a Beast TCP stream, from an ADS-B sensor); false when it cannot be read.
pub fn pcap_is_tcp_only(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|d| tcp_only(&d))
}

/// The Beast stream of a pcap: the TCP flow with the most payload (one recording, one
/// receiver; other flows are logged and left out), rebuilt.
fn beast_from_pcap(data: &[u8], input: &Path) -> Result<TcpStream> {
    let reader = PcapReader::new(data).with_context(|| format!("{}: pcap", input.display()))?;
    let segments = reader.tcp_segments().filter_map(|s| {
        s.inspect_err(|e| tracing::warn!("{}: {e}", input.display()))
            .ok()
    });
    let mut flows = rebuild(segments).into_iter();
    let Some(((from, to), stream)) = flows.next() else {
        bail!(
            "{}: no TCP payload in the capture (a Beast feed is a TCP stream)",
            input.display()
        );
    };
    for ((f, t), other) in flows {
        tracing::warn!(
            "{}: TCP flow {f} -> {t} ({} bytes) left out: one import reads one receiver's stream",
            input.display(),
            other.bytes.len()
        );
    }
    if stream.missing > 0 {
        tracing::warn!(
            "{}: Beast stream {from} -> {to}: {} bytes missing from the capture (skipped; the \
             framing resynchronises)",
            input.display(),
            stream.missing
        );
    }
    Ok(stream)
}

fn asterix_decoder(clock: TodClock, opts: &ImportOptions, counters: &Arc<Counters>) -> FeedDecoder {
    FeedDecoder::new(
        clock,
        ScanBatcher::new(FLUSH_AFTER, MAX_BATCH),
        opts.source_filter,
        counters.clone(),
    )
}

/// The time of day of an ASTERIX record, if it has one.
fn record_tod(r: &Record) -> Option<f64> {
    match r {
        Record::Cat048(r) => r.tod_s,
        Record::Cat034(r) => r.tod_s,
        Record::Cat021(r) => r.tod_s(),
        Record::Cat062(r) => r.tod_s,
    }
}

/// A pcap time as ns since 1970.
fn packet_ns((s, ns): (u32, u32)) -> i64 {
    i64::from(s) * 1_000_000_000 + i64::from(ns)
}

/// The datablocks of a raw ASTERIX file (CAT, LEN16, ...): a datablock with an impossible
/// length ends the file as one last piece, which the decoder reports.
fn datablocks(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= data.len() {
            return None;
        }
        let rest = &data[pos..];
        let len = rest
            .get(1..3)
            .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
        let take = if (3..=rest.len()).contains(&len) {
            len
        } else {
            rest.len()
        };
        pos += take;
        Some(&rest[..take])
    })
}

/// Beast frames as `beast-in` turns them into plots, with the receiver's counter as the clock:
/// one batch per second of data time, as the live adapter's batch period.
fn import_beast(
    data: &[u8],
    start_unix_ns: i64,
    epoch: i64,
    opts: &ImportOptions,
    counters: &Arc<Counters>,
    sink: &mut Sink,
) -> Result<()> {
    let mut conv = BeastPlots::new(opts.reference, counters.clone());
    let t0 = iapz_proto::unix_ns_to_t(epoch, start_unix_ns);
    let mut first_mlat: Option<f64> = None;
    let mut plots = Vec::new();
    let mut batch_end: Option<f64> = None;
    let mut bytes = Vec::with_capacity(32);
    let mut last_t = t0;
    for frame in frames(data) {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                counters.frames_in(1);
                counters.rejected(framing_reason(&e), &e);
                continue;
            }
        };
        let mlat0 = *first_mlat.get_or_insert(frame.mlat_s());
        // The counter never runs back on one receiver; a frame that does is stamped as the last.
        let t = (t0 + frame.mlat_s() - mlat0).max(last_t);
        last_t = t;
        if batch_end.is_some_and(|end| t >= end) {
            flush_beast(sink, &mut plots, epoch)?;
            batch_end = None;
        }
        batch_end.get_or_insert(t + BEAST_BATCH_S);
        bytes.clear();
        frame.encode(&mut bytes);
        conv.push(&bytes, t, &mut plots);
        if plots.len() >= MAX_BATCH {
            flush_beast(sink, &mut plots, epoch)?;
        }
    }
    flush_beast(sink, &mut plots, epoch)
}

fn flush_beast(sink: &mut Sink, plots: &mut Vec<v1::Plot>, epoch: i64) -> Result<()> {
    if plots.is_empty() {
        return Ok(());
    }
    let scan_time = plots.iter().map(|p| p.t).fold(f64::NEG_INFINITY, f64::max);
    let b = ScanBatch {
        scan_time,
        plots: std::mem::take(plots),
    };
    Ok(sink.batch(b, t_to_unix_ns(epoch, scan_time))?)
}
