//! `iapz-adapter`: the command-line face of the adapters crate. `decode` is an inspection
//! tool that prints every ASTERIX record or Beast frame of a file, a capture or stdin as one
//! JSON object per line, so a feed can be checked by eye or by script; `asterix-in`,
//! `beast-in` and `cat062-out` run the live adapters of [`iapz_adapters::live`].

mod inspect;
mod live;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use iapz_adapters::asterix::Decoder;
use iapz_adapters::pcap::PcapReader;
use std::io::{BufWriter, Read, Write};

/// Command line of `iapz-adapter`.
#[derive(Parser)]
#[command(version, about = "IAPZ surveillance-format adapters")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print every record of FILE (or stdin: `-`) as one JSON object per line on stdout;
    /// records that cannot be decoded go to stderr with their byte offset and reason.
    Decode {
        /// Input file, or `-` for stdin.
        input: String,
        /// How the input is framed.
        #[arg(long, value_enum, default_value_t = Format::Asterix)]
        format: Format,
    },
    /// ASTERIX over UDP (unicast or multicast) -> plot batches (CAT048, cut by CAT034) and
    /// partner tracks (CAT062) on Zenoh.
    AsterixIn(live::AsterixInArgs),
    /// A dump1090/readsb Beast TCP feed -> ADS-B plots on Zenoh, reconnecting with backoff.
    BeastIn(live::BeastInArgs),
    /// The picture from Zenoh -> ASTERIX CAT062 datagrams, periodically.
    Cat062Out(live::Cat062OutArgs),
}

/// Input framings the decoder understands.
#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Concatenated ASTERIX datablocks (a raw recording, or one UDP payload).
    Asterix,
    /// Beast binary Mode S frames (dump1090/readsb port 30005 output).
    Beast,
    /// A classic pcap capture of ASTERIX in UDP.
    Pcap,
}

/// What one run saw, printed to stderr at the end.
#[derive(Default)]
struct Tally {
    records: [usize; 4],
    errors: usize,
}

impl Tally {
    fn summary(&self) -> String {
        let [c48, c34, c21, c62] = self.records;
        format!(
            "{} records (CAT048 {c48}, CAT034 {c34}, CAT021 {c21}, CAT062 {c62}), {} bad",
            c48 + c34 + c21 + c62,
            self.errors
        )
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode { input, format } => decode(&input, format),
        Command::AsterixIn(a) => live::run(live::LiveCommand::AsterixIn(a)),
        Command::BeastIn(a) => live::run(live::LiveCommand::BeastIn(a)),
        Command::Cat062Out(a) => live::run(live::LiveCommand::Cat062Out(a)),
    };
    // A closed pipe (`| head`) is the reader saying it has seen enough, not a failure.
    match result {
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        other => other,
    }
}

fn read_input(input: &str) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    if input == "-" {
        std::io::stdin()
            .read_to_end(&mut data)
            .context("reading stdin")?;
    } else {
        data = std::fs::read(input).with_context(|| format!("reading {input}"))?;
    }
    Ok(data)
}

fn decode(input: &str, format: Format) -> Result<()> {
    let data = read_input(input)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut tally = Tally::default();
    match format {
        Format::Asterix => print_records(&mut out, Decoder::new(&data), &mut tally)?,
        Format::Pcap => {
            let reader = PcapReader::new(&data).with_context(|| format!("reading {input}"))?;
            for datagram in reader {
                match datagram {
                    Ok(d) => {
                        let records = Decoder::with_base_offset(d.payload, d.payload_offset);
                        print_records(&mut out, records, &mut tally)?;
                    }
                    Err(e) => {
                        tally.errors += 1;
                        eprintln!("{e}");
                    }
                }
            }
        }
        Format::Beast => {
            let summary = inspect::print_beast(&mut out, &data)?;
            out.flush()?;
            eprintln!("{summary}");
            return Ok(());
        }
    }
    out.flush()?;
    eprintln!("{}", tally.summary());
    Ok(())
}

fn print_records(out: &mut impl Write, records: Decoder<'_>, tally: &mut Tally) -> Result<()> {
    for r in records {
        match r {
            Ok(d) => {
                let slot = match d.record.category() {
                    48 => 0,
                    34 => 1,
                    21 => 2,
                    _ => 3,
                };
                tally.records[slot] += 1;
                writeln!(out, "{}", inspect::record_json(&d))?;
            }
            Err(e) => {
                tally.errors += 1;
                eprintln!("bad record: {e}");
            }
        }
    }
    Ok(())
}
