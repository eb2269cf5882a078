//! The sqllogictest suite (`tests/slt/*.slt`) through a cluster of separate
//! processes on 127.0.0.1: one `cuvee broker` and three `cuvee server`s, server i holding
//! the imported segments number j with j mod 3 = i (two hold none of airlineStats' single
//! segment), every query over HTTP to the broker process. Same files and expected answers
//! as in one process (`tests/sqllogictest.rs`). Processes bind port 0 and print
//! where they listen, so no port is guessed.

mod common;
mod slt_support;

use slt_support::{load_examples, run_suite, server_share, Endpoint};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A child process killed when dropped, with its stdout lines on a channel.
struct Process {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Process {
    fn start(args: &[&str]) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cuvee")).args(args).stdout(Stdio::piped()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = send.send(line);
            }
        });
        Process { child, lines }
    }

    /// The address after `marker` in the first line that has it (the process's own report
    /// of where it listens).
    fn address_after(&self, marker: &str) -> SocketAddr {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no line with {marker:?} within 60 s"));
            if let Some((_, rest)) = line.split_once(marker) {
                let address: String =
                    rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':').collect();
                return address.parse().unwrap_or_else(|e| panic!("{address:?} in {line:?}: {e}"));
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_logic_tests_through_separate_processes() {
    let dir = tempfile::tempdir().unwrap();
    load_examples(dir.path());
    let mut servers = Vec::new();
    let mut grpc = Vec::new();
    for ordinal in 0..3 {
        let data = server_share(dir.path(), ordinal, 3);
        let data = data.to_str().unwrap().to_string();
        let ordinal = ordinal.to_string();
        let server = Process::start(&[
            "server",
            "--data-dir",
            &data,
            "--listen",
            "127.0.0.1:0",
            "--grpc-listen",
            "127.0.0.1:0",
            "--ordinal",
            &ordinal,
            "--servers",
            "3",
        ]);
        grpc.push(server.address_after("brokers on ").to_string());
        servers.push(server);
    }
    let broker = Process::start(&[
        "broker",
        "--servers",
        &grpc.join(","),
        "--listen",
        "127.0.0.1:0",
        "--pg-listen",
        "off",
        "--flight-listen",
        "off",
    ]);
    let address = broker.address_after("Pinot query API on http://");
    let (status, _, tables) = common::request(address, "GET", "/tables", "", "").await;
    assert_eq!(status, 200, "{tables}");
    assert_eq!(
        tables["tables"],
        serde_json::json!(["airlineStats", "baseballStats", "starbucksStores"]),
        "the broker learned every table from its first listing"
    );
    run_suite(Endpoint::Http(address)).await;
    drop(broker);
    drop(servers);
}
