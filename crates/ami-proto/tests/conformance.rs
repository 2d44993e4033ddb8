//! Replays the byte captures of a real Asterisk 22.10.1 server (tests/data/asterisk-22, copied
//! from the project's shared conformance folder; see its README.md).
//!
//! * Client side: every `server_to_client.bin` decodes to the same frames whole, byte by byte, at
//!   random split points and at the recorded TCP read boundaries (`timeline.tsv`), and the number
//!   of frames equals the count in the scenario's README summary.
//! * Server side: every `client_to_server.bin` decodes the same way in all four feed patterns,
//!   and where Asterisk answered a framing error (too many lines, line too long) the decoder
//!   reports the same error with the same ActionID to echo.

use std::fs;
use std::path::{Path, PathBuf};

use ami_proto::{Decoder, Frame, FrameErrorKind, MessageKind, OwnedMessage, Role};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Banner(Vec<u8>),
    Msg(OwnedMessage),
    Err(FrameErrorKind, OwnedMessage),
}

struct Connection {
    scenario: String,
    name: String,
    dir: PathBuf,
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/asterisk-22")
}

fn connections() -> Vec<Connection> {
    let mut out = Vec::new();
    let mut scenarios: Vec<_> = fs::read_dir(data_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    scenarios.sort();
    for dir in scenarios {
        let scenario = dir.file_name().unwrap().to_string_lossy().into_owned();
        if dir.join("server_to_client.bin").exists() {
            out.push(Connection { scenario, name: "client".into(), dir });
            continue;
        }
        let mut subs: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("server_to_client.bin").exists())
            .collect();
        subs.sort();
        for sub in subs {
            let name = sub.file_name().unwrap().to_string_lossy().into_owned();
            out.push(Connection { scenario: scenario.clone(), name, dir: sub });
        }
    }
    out
}

fn drain(dec: &mut Decoder, out: &mut Vec<Item>) {
    while let Some(item) = dec.next_frame() {
        out.push(match item {
            Ok(Frame::Banner(b)) => Item::Banner(b.line().to_vec()),
            Ok(Frame::Message(m)) => Item::Msg(m.to_owned_message()),
            Err(e) => Item::Err(e.kind(), e.partial().to_owned_message()),
        });
    }
}

fn decode_chunks<'a>(role: Role, chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<Item> {
    let mut dec = Decoder::new(role);
    let mut out = Vec::new();
    for c in chunks {
        dec.feed(c);
        drain(&mut dec, &mut out);
    }
    out
}

/// A small deterministic PRNG (SplitMix64) for random split points.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn random_chunks(bytes: &[u8], seed: u64) -> Vec<&[u8]> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = 1 + (rng.next() % 97) as usize;
        let (a, b) = rest.split_at(n.min(rest.len()));
        out.push(a);
        rest = b;
    }
    out
}

/// The recorded read boundaries for one direction (`S->C` or `C->S`).
fn timeline_chunks<'a>(dir: &Path, bytes: &'a [u8], direction: &str) -> Vec<&'a [u8]> {
    let tsv = fs::read_to_string(dir.join("timeline.tsv")).unwrap();
    let mut out = Vec::new();
    let mut covered = 0;
    for row in tsv.lines().filter(|l| !l.starts_with('#')) {
        let cols: Vec<&str> = row.split('\t').collect();
        if cols.get(1) != Some(&direction) {
            continue;
        }
        let offset: usize = cols[2].parse().unwrap();
        let len: usize = cols[3].parse().unwrap();
        assert_eq!(offset, covered, "{}: timeline rows are contiguous", dir.display());
        out.push(&bytes[offset..offset + len]);
        covered += len;
    }
    assert_eq!(covered, bytes.len(), "{}: timeline covers the capture", dir.display());
    out
}

/// Decodes `bytes` whole, byte by byte, at random splits (3 seeds) and at the recorded splits,
/// asserts that all agree and returns the items.
fn decode_four_ways(conn: &Connection, role: Role, bytes: &[u8], direction: &str) -> Vec<Item> {
    let whole = decode_chunks(role, [bytes]);
    let bytewise = decode_chunks(role, bytes.chunks(1));
    assert_eq!(whole, bytewise, "{}/{}: whole vs byte by byte", conn.scenario, conn.name);
    for seed in [1, 2, 3] {
        let random = decode_chunks(role, random_chunks(bytes, seed));
        assert_eq!(whole, random, "{}/{}: random splits {seed}", conn.scenario, conn.name);
    }
    let recorded = decode_chunks(role, timeline_chunks(&conn.dir, bytes, direction));
    assert_eq!(whole, recorded, "{}/{}: recorded splits", conn.scenario, conn.name);
    whole
}

/// The number of banner/response/event lines in the README summary of one connection.
fn readme_count(conn: &Connection) -> usize {
    let readme_dir = if conn.dir.join("README.txt").exists() {
        conn.dir.clone()
    } else {
        conn.dir.parent().unwrap().to_path_buf()
    };
    let text = fs::read_to_string(readme_dir.join("README.txt")).unwrap();
    let header = format!("Server messages seen by connection '{}'", conn.name);
    let start = text.find(&header).unwrap_or_else(|| panic!("no summary for {}", conn.name));
    let mut count = 0;
    for line in text[start..].lines().skip(1) {
        let Some(rest) = line.strip_prefix("  t=") else { break };
        let kind = rest.split_once(' ').map(|(_, k)| k).unwrap_or("");
        if kind.starts_with("BANNER") || kind.starts_with("Response:") || kind.starts_with("Event:")
        {
            count += 1;
        }
    }
    count
}

#[test]
fn every_capture_is_present() {
    let conns = connections();
    assert_eq!(conns.len(), 40, "captures: {}", conns.len());
}

#[test]
fn server_output_decodes_identically_in_every_feed_pattern_and_matches_readme_counts() {
    let mut total_frames = 0;
    for conn in connections() {
        let bytes = fs::read(conn.dir.join("server_to_client.bin")).unwrap();
        let items = decode_four_ways(&conn, Role::Client, &bytes, "S->C");
        for item in &items {
            assert!(!matches!(item, Item::Err(..)), "{}: {item:?}", conn.scenario);
        }
        if !bytes.is_empty() {
            assert!(
                matches!(&items[0], Item::Banner(b) if b == b"Asterisk Call Manager/11.0.0"),
                "{}/{}",
                conn.scenario,
                conn.name
            );
        }
        assert_eq!(
            items.len(),
            readme_count(&conn),
            "{}/{}: frames vs README summary",
            conn.scenario,
            conn.name
        );
        // Nothing is lost: the frames' bytes are the whole capture.
        let framed: usize = items
            .iter()
            .map(|i| match i {
                Item::Banner(b) => b.len() + 2,
                Item::Msg(m) => m.raw().len(),
                Item::Err(..) => unreachable!(),
            })
            .sum();
        assert_eq!(framed, bytes.len(), "{}/{}", conn.scenario, conn.name);
        total_frames += items.len();
    }
    assert_eq!(total_frames, 878, "frames in all captures");
}

/// Splits a capture of server output into its responses (events and the banner left out).
fn responses(bytes: &[u8]) -> Vec<OwnedMessage> {
    decode_chunks(Role::Client, [bytes])
        .into_iter()
        .filter_map(|i| match i {
            Item::Msg(m) if m.as_message().kind() == MessageKind::Response => Some(m),
            _ => None,
        })
        .collect()
}

#[test]
fn client_input_decodes_identically_and_framing_errors_match_asterisk() {
    let mut errors_checked = 0;
    for conn in connections() {
        let input = fs::read(conn.dir.join("client_to_server.bin")).unwrap();
        let items = decode_four_ways(&conn, Role::Server, &input, "C->S");
        let output = fs::read(conn.dir.join("server_to_client.bin")).unwrap();
        let answers = responses(&output);
        // Asterisk answers every action it reads with exactly one response, in order, except a
        // synchronous Originate (the events that follow it are not responses either) — so the
        // answers are compared only up to the first message that is not answered in kind.
        for (item, answer) in items.iter().zip(&answers) {
            let expected_id =
                |m: &OwnedMessage| m.as_message().action_id_to_echo().map(<[u8]>::to_vec);
            match item {
                Item::Err(kind, partial) => {
                    assert_eq!(answer.get("Response"), Some(&b"Error"[..]), "{}", conn.scenario);
                    assert_eq!(
                        answer.get("Message"),
                        Some(kind.asterisk_message().as_bytes()),
                        "{}",
                        conn.scenario
                    );
                    assert_eq!(
                        answer.get("ActionID").map(<[u8]>::to_vec),
                        expected_id(partial),
                        "{}",
                        conn.scenario
                    );
                    errors_checked += 1;
                }
                Item::Msg(m) => {
                    if m.as_message().action().is_none() {
                        assert_eq!(
                            answer.get("Message"),
                            Some(&b"Missing action in request"[..]),
                            "{}",
                            conn.scenario
                        );
                    }
                    assert_eq!(
                        answer.get("ActionID").map(<[u8]>::to_vec),
                        expected_id(m),
                        "{}: ActionID echo of {m:?}",
                        conn.scenario
                    );
                }
                Item::Banner(_) => panic!("servers see no banner"),
            }
        }
    }
    assert_eq!(errors_checked, 2, "the malformed-200-headers capture has two framing errors");
}
