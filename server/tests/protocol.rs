//! The server's side of the protocol over real gRPC on 127.0.0.1: refusals name what was
//! wrong, and a listing shows the tables it holds.

use cuvee_proto::v1::segment_server_client::SegmentServerClient;
use cuvee_proto::v1::{FragmentRequest, HealthRequest, ListSegmentsRequest};
use cuvee_query::codec::SegmentResolver;
use cuvee_query::{ScanOptions, SegmentTable};
use cuvee_server::{FragmentService, ServerOptions};
use std::sync::Arc;
use tonic::Code;

#[derive(Debug)]
struct OneTable(Arc<SegmentTable>);

impl SegmentResolver for OneTable {
    fn table(&self, name: &str) -> Option<Arc<SegmentTable>> {
        (name == self.0.table().name()).then(|| Arc::clone(&self.0))
    }

    fn tables(&self) -> Vec<Arc<SegmentTable>> {
        vec![Arc::clone(&self.0)]
    }
}

fn table() -> Arc<SegmentTable> {
    let schema = cuvee_catalog::Schema::from_json(
        r#"{"schemaName": "t", "dimensionFieldSpecs": [{"name": "a", "dataType": "INT"}]}"#,
    )
    .unwrap();
    let config = cuvee_catalog::TableConfigJson::from_json(r#"{"tableName": "t", "tableType": "OFFLINE", "segmentsConfig": {}, "tableIndexConfig": {}, "tenants": {}, "metadata": {}}"#).unwrap();
    Arc::new(SegmentTable::new(cuvee_catalog::Table::new(schema, config).unwrap(), ScanOptions::default()))
}

async fn start() -> SegmentServerClient<tonic::transport::Channel> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let options = ServerOptions { server_id: "s0".into(), memory_bytes: 64 << 20 };
    let service = FragmentService::new(options, Arc::new(OneTable(table())), tokio::runtime::Handle::current());
    tokio::spawn(cuvee_server::serve_until(listener, service, None, std::future::pending()));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}")).unwrap().connect_lazy();
    SegmentServerClient::new(channel)
}

fn request(version: u32, deadline_unix_ms: i64, fragment: Vec<u8>) -> FragmentRequest {
    FragmentRequest {
        protocol_version: version,
        query_id: "q1".into(),
        deadline_unix_ms,
        table: "t".into(),
        segments: vec![],
        fragment,
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_protocol_version_is_refused_naming_both() {
    let mut client = start().await;
    let status = client.execute_fragment(request(cuvee_proto::PROTOCOL_VERSION + 1, 0, vec![])).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains(&format!("protocol version {}", cuvee_proto::PROTOCOL_VERSION + 1)),
        "{}",
        status.message()
    );
    assert!(status.message().contains(&format!("({})", cuvee_proto::PROTOCOL_VERSION)), "{}", status.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passed_deadline_and_undecodable_fragments_are_refused() {
    let mut client = start().await;
    let late = client.execute_fragment(request(cuvee_proto::PROTOCOL_VERSION, now_ms() - 1, vec![])).await.unwrap_err();
    assert_eq!(late.code(), Code::DeadlineExceeded, "{late:?}");
    let garbage = client
        .execute_fragment(request(cuvee_proto::PROTOCOL_VERSION, now_ms() + 10_000, vec![0xff, 0x00, 0x13]))
        .await
        .unwrap_err();
    assert_eq!(garbage.code(), Code::InvalidArgument, "{garbage:?}");
    assert!(garbage.message().contains("cannot decode the fragment"), "{}", garbage.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_listing() {
    let mut client = start().await;
    let health = client.health(HealthRequest {}).await.unwrap().into_inner();
    assert_eq!(
        (health.server_id.as_str(), health.status.as_str(), health.protocol_version),
        ("s0", "ready", cuvee_proto::PROTOCOL_VERSION)
    );
    let listing = client.list_segments(ListSegmentsRequest {}).await.unwrap().into_inner();
    assert_eq!(listing.tables.len(), 1);
    let schema: serde_json::Value = serde_json::from_str(&listing.tables[0].schema_json).unwrap();
    assert_eq!(schema["schemaName"], "t");
    assert!(listing.tables[0].sealed.is_empty() && listing.tables[0].consuming.is_empty());
}
