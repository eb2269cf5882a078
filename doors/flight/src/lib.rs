//! # cuvee-flight
//!
//! Answers: *can an Arrow client query cuvee?* The Arrow Flight SQL door: standard SQL (no Pinot dialect, no default LIMIT), results as
//! Arrow record batches, so `pyarrow.flight`, the ADBC Flight SQL driver and JDBC/ODBC
//! Flight SQL drivers work. Statements, prepared statements (with parameters: `$1`, `$2`,
//! or `?` in order — the ADBC driver's style — bound by `DoPut` with one row), and the
//! metadata calls tools start with: catalogs, schemas, tables (with their Arrow schemas),
//! table types, SQL info.
//!
//! Queries plan in a session over the broker's live tables (`cuvee.public`, as on the
//! Postgres door) with the broker's distribution rule, and run on the query runtime within
//! the broker's per-query memory limit, admission and statement timeout
//! (`--max-query-timeout-ms`). A server that fails fails the query (Flight has no place for
//! a partial flag); a client that goes away stops it.
//!
//! **Who calls.** With users configured every call carries an `authorization` header: HTTP
//! Basic credentials or a user's token, or — the Flight way — the bearer token the
//! handshake hands out for Basic credentials (`authorization: Bearer …` in the handshake's
//! response headers, as pyarrow's `authenticate_basic_token` and the ADBC driver expect).
//! One interceptor turns the header into a [`Principal`] before any handler runs; each
//! statement then needs READ on every table it scans, prepared statements belong to the
//! principal that made them, and handles are random.

mod statement;

use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::flight_service_server::FlightServiceServer;
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest, ActionCreatePreparedStatementResult,
    CommandGetCatalogs, CommandGetDbSchemas, CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables,
    CommandPreparedStatementQuery, CommandStatementQuery, DoPutPreparedStatementResult, ProstMessageExt, SqlInfo,
    TicketStatementQuery,
};
use arrow_flight::{
    Action, FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse, IpcMessage, SchemaAsIpc,
    Ticket,
};
use cuvee_access::{Access, Credentials, Principal, SessionTokens};
use cuvee_broker::QueryService;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::ipc::writer::IpcWriteOptions;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::{Stream, TryStreamExt};
use parking_lot::Mutex;
use prost::Message;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status, Streaming};

pub const CATALOG: &str = "cuvee";
pub const SCHEMA: &str = "public";

/// Prepared statements the door keeps at most; past it the least recently used goes.
const MAX_PREPARED: usize = 4096;
/// A prepared statement unused this long is forgotten.
const PREPARED_TTL: Duration = Duration::from_secs(3600);
/// A handshake's session token lives this long after its last use.
const SESSION_TTL: Duration = Duration::from_secs(3600);
const MAX_SESSIONS: usize = 10_000;

/// A prepared statement: its SQL (`?` already numbered), the parameters last bound, and
/// who may use it.
#[derive(Debug, Clone)]
struct Prepared {
    sql: String,
    parameters: Option<Vec<ScalarValue>>,
    owner: String,
    used: Instant,
}

pub struct FlightSqlDoor {
    service: Arc<QueryService>,
    session: SessionContext,
    prepared: Mutex<HashMap<Vec<u8>, Prepared>>,
    access: Access,
    sessions: Arc<SessionTokens>,
}

/// Who a request comes from, as the interceptor found it.
fn principal_of<T>(request: &Request<T>) -> Result<Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("the request was not authenticated"))
}

/// Turns the `authorization` header into the caller's [`Principal`] for every call.
#[derive(Clone)]
pub struct Authenticate {
    access: Access,
    sessions: Arc<SessionTokens>,
}

impl tonic::service::Interceptor for Authenticate {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let principal = match &self.access {
            Access::Open => Principal::anonymous(),
            Access::Users(users) => {
                let header = request.metadata().get("authorization").ok_or_else(|| {
                    Status::unauthenticated(
                        "send credentials: HTTP Basic in the handshake, then its bearer token on every call",
                    )
                })?;
                let header =
                    header.to_str().map_err(|_| Status::unauthenticated("the authorization header is not text"))?;
                let credentials = Credentials::parse(header).map_err(access_status)?;
                let session = match &credentials {
                    Credentials::Bearer(token) => self.sessions.principal(token),
                    Credentials::Basic { .. } => None,
                };
                match session {
                    Some(principal) => principal,
                    None => users.authenticate(&credentials).map_err(access_status)?,
                }
            }
        };
        request.extensions_mut().insert(principal);
        Ok(request)
    }
}

fn access_status(error: cuvee_access::AccessError) -> Status {
    cuvee_proto::status(cuvee_error::ErrorExt::kind(&error), error.to_string())
}

impl FlightSqlDoor {
    pub fn new(service: Arc<QueryService>, access: Access) -> Result<FlightSqlDoor, DataFusionError> {
        let config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG, SCHEMA)
            .with_create_default_catalog_and_schema(true);
        let session = SessionContext::new_with_state(service.session_state(config).build());
        cuvee_query::register_functions(&session);
        let tables = Arc::clone(service.tables()) as Arc<dyn datafusion::catalog::SchemaProvider>;
        let catalog = session
            .catalog(CATALOG)
            .ok_or_else(|| DataFusionError::Internal(format!("the session has no catalog {CATALOG}")))?;
        catalog.register_schema(SCHEMA, tables)?;
        let sessions = Arc::new(SessionTokens::new(SESSION_TTL, MAX_SESSIONS));
        Ok(FlightSqlDoor { service, session, prepared: Mutex::default(), access, sessions })
    }

    /// The tonic service to add to a server: the door behind its authentication.
    pub fn into_service(self) -> InterceptedService<FlightServiceServer<FlightSqlDoor>, Authenticate> {
        let authenticate = Authenticate { access: self.access.clone(), sessions: Arc::clone(&self.sessions) };
        let server = FlightServiceServer::new(self).max_encoding_message_size(256 << 20);
        InterceptedService::new(server, authenticate)
    }

    /// `sql` planned for `principal`, with `parameters` bound to its placeholders when given.
    async fn plan(
        &self,
        sql: &str,
        parameters: Option<Vec<ScalarValue>>,
        principal: &Principal,
    ) -> Result<DataFrame, Status> {
        cuvee_query::check_complexity(sql).map_err(|e| to_status(e.into()))?;
        // Planned, checked, then made a frame: `SessionContext::sql` would run DDL while planning.
        let plan = self.session.state().create_logical_plan(sql).await.map_err(to_status)?;
        cuvee_query::read_only(&plan).map_err(|e| to_status(e.into()))?;
        cuvee_query::authorize(&plan, principal).map_err(|e| to_status(e.into()))?;
        let frame = self.session.execute_logical_plan(plan).await.map_err(to_status)?;
        match parameters {
            Some(values) => frame
                .with_param_values(ParamValues::List(values.into_iter().map(Into::into).collect()))
                .map_err(to_status),
            None => Ok(frame),
        }
    }

    async fn schema_of(&self, sql: &str, principal: &Principal) -> Result<Schema, Status> {
        let frame = self.plan(sql, None, principal).await?;
        Ok(frame.schema().as_arrow().clone())
    }

    fn table_names(&self) -> Vec<String> {
        let mut names = self.service.table_names();
        names.sort();
        names
    }
}

type FlightStream = Pin<Box<dyn Stream<Item = Result<arrow_flight::FlightData, Status>> + Send + 'static>>;

fn encode(
    schema: Arc<Schema>,
    batches: impl Stream<Item = Result<RecordBatch, arrow_flight::error::FlightError>> + Send + 'static,
) -> FlightStream {
    Box::pin(FlightDataEncoderBuilder::new().with_schema(schema).build(batches).map_err(Status::from))
}

fn one_batch<E: std::fmt::Display>(
    schema: Arc<Schema>,
    batch: Result<RecordBatch, E>,
) -> Result<Response<FlightStream>, Status> {
    let batch = batch.map_err(|e| Status::internal(e.to_string()))?;
    Ok(Response::new(encode(schema, futures::stream::once(async move { Ok(batch) }))))
}

/// A query's error as a Flight status: the code by its kind (the one gRPC mapping,
/// `cuvee_proto::code`), the message DataFusion's or cuvee's, naming what was wrong.
fn to_status(error: DataFusionError) -> Status {
    cuvee_proto::status(cuvee_query::kind_of(&error), error.to_string())
}

fn info(schema: &Schema, ticket: Vec<u8>, descriptor: FlightDescriptor) -> Result<Response<FlightInfo>, Status> {
    let endpoint = FlightEndpoint::new().with_ticket(Ticket { ticket: ticket.into() });
    let info = FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|e| Status::internal(format!("encoding the schema: {e}")))?
        .with_endpoint(endpoint)
        .with_descriptor(descriptor);
    Ok(Response::new(info))
}

fn sql_info() -> &'static SqlInfoData {
    static DATA: OnceLock<SqlInfoData> = OnceLock::new();
    DATA.get_or_init(|| {
        let mut builder = SqlInfoDataBuilder::new();
        builder.append(SqlInfo::FlightSqlServerName, "cuvee");
        builder.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
        builder.append(SqlInfo::FlightSqlServerArrowVersion, "1.3");
        builder.append(SqlInfo::FlightSqlServerReadOnly, true);
        builder.append(SqlInfo::FlightSqlServerSql, true);
        builder.append(SqlInfo::FlightSqlServerSubstrait, false);
        builder.append(SqlInfo::FlightSqlServerTransaction, 0i32);
        builder.append(SqlInfo::FlightSqlServerCancel, false);
        builder.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
        builder.build().unwrap_or_else(|_| SqlInfoDataBuilder::new().build().expect("an empty SQL info"))
    })
}

#[tonic::async_trait]
impl FlightSqlService for FlightSqlDoor {
    type FlightService = FlightSqlDoor;

    /// Trades the credentials the interceptor checked for a session token, sent back as
    /// `authorization: Bearer …` (without users every caller is anonymous and no token is
    /// needed; the handshake still answers, for clients that always make one).
    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>, Status> {
        let principal = principal_of(&request)?;
        let token = match &self.access {
            Access::Open => None,
            Access::Users(_) => Some(self.sessions.issue(principal.clone()).map_err(access_status)?),
        };
        let payload = token.clone().unwrap_or_default().into_bytes().into();
        let response = HandshakeResponse { protocol_version: 0, payload };
        let mut response = Response::new(Box::pin(futures::stream::once(async move { Ok(response) }))
            as Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>);
        if let Some(token) = token {
            let value = format!("Bearer {token}")
                .parse()
                .map_err(|_| Status::internal("the session token is not a header value"))?;
            response.metadata_mut().insert("authorization", value);
            tracing::info!(user = principal.name(), "Flight SQL session opened");
        }
        Ok(response)
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = self.schema_of(&query.query, &principal_of(&request)?).await?;
        let ticket = TicketStatementQuery { statement_handle: query.query.into_bytes().into() };
        info(&schema, ticket.as_any().encode_to_vec(), request.into_inner())
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<FlightStream>, Status> {
        let sql = String::from_utf8(ticket.statement_handle.to_vec())
            .map_err(|_| Status::invalid_argument("the statement ticket is not UTF-8 SQL"))?;
        self.run(sql, None, &principal_of(&request)?).await
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let principal = principal_of(&request)?;
        let sql = number_placeholders(&query.query).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let frame = self.plan(&sql, None, &principal).await?;
        let ipc = |schema: &Schema| -> Result<prost::bytes::Bytes, Status> {
            let IpcMessage(bytes) = SchemaAsIpc::new(schema, &IpcWriteOptions::default())
                .try_into()
                .map_err(|e: datafusion::arrow::error::ArrowError| Status::internal(e.to_string()))?;
            Ok(bytes)
        };
        let dataset_schema = ipc(frame.schema().as_arrow())?;
        let parameter_schema = match parameter_fields(frame.logical_plan()).map_err(to_status)? {
            fields if fields.is_empty() => Default::default(),
            fields => ipc(&Schema::new(fields))?,
        };
        let random = cuvee_access::random_hex(16).map_err(access_status)?;
        let handle = format!("cuvee-prepared-{random}").into_bytes();
        let statement = Prepared { sql, parameters: None, owner: principal.name().to_string(), used: Instant::now() };
        self.keep_prepared(handle.clone(), statement);
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: handle.into(),
            dataset_schema,
            parameter_schema,
        })
    }

    /// Binds parameters: one row, a column per placeholder in order.
    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        let principal = principal_of(&request)?;
        let data = request.into_inner().map_err(arrow_flight::error::FlightError::from);
        let batches: Vec<RecordBatch> = FlightRecordBatchStream::new_from_flight_data(data)
            .try_collect()
            .await
            .map_err(|e| Status::invalid_argument(format!("reading the parameters: {e}")))?;
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
            return Err(Status::invalid_argument("no parameter values were sent (one row is needed)"));
        };
        if rows != 1 {
            return Err(Status::invalid_argument(format!(
                "a prepared query takes one row of parameters; {rows} were sent"
            )));
        }
        let values = batch
            .columns()
            .iter()
            .map(|column| ScalarValue::try_from_array(column, 0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(to_status)?;
        let mut prepared = self.prepared.lock();
        let statement = prepared
            .get_mut(query.prepared_statement_handle.as_ref())
            .filter(|s| s.owner == principal.name())
            .ok_or_else(no_such_statement)?;
        statement.parameters = Some(values);
        statement.used = Instant::now();
        Ok(DoPutPreparedStatementResult { prepared_statement_handle: None })
    }

    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<(), Status> {
        let principal = principal_of(&request)?;
        let mut prepared = self.prepared.lock();
        let handle = query.prepared_statement_handle.as_ref();
        if prepared.get(handle).is_some_and(|s| s.owner == principal.name()) {
            prepared.remove(handle);
        }
        Ok(())
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let principal = principal_of(&request)?;
        let Prepared { sql, parameters, .. } = self.prepared(&query, &principal)?;
        let frame = self.plan(&sql, parameters, &principal).await?;
        let schema = frame.schema().as_arrow().clone();
        info(&schema, query.as_any().encode_to_vec(), request.into_inner())
    }

    async fn do_get_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<FlightStream>, Status> {
        let principal = principal_of(&request)?;
        let Prepared { sql, parameters, .. } = self.prepared(&query, &principal)?;
        self.run(sql, parameters, &principal).await
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        info(&query.into_builder().schema(), query.as_any().encode_to_vec(), request.into_inner())
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        _request: Request<Ticket>,
    ) -> Result<Response<FlightStream>, Status> {
        let mut builder = query.into_builder();
        builder.append(CATALOG);
        one_batch(builder.schema(), builder.build())
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        info(&query.clone().into_builder().schema(), query.as_any().encode_to_vec(), request.into_inner())
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        _request: Request<Ticket>,
    ) -> Result<Response<FlightStream>, Status> {
        let mut builder = query.into_builder();
        builder.append(CATALOG, SCHEMA);
        one_batch(builder.schema(), builder.build())
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        info(&query.clone().into_builder().schema(), query.as_any().encode_to_vec(), request.into_inner())
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<FlightStream>, Status> {
        let principal = principal_of(&request)?;
        let mut builder = query.into_builder();
        for name in self.table_names() {
            if !principal.may(cuvee_access::Permission::Read, &name) {
                continue;
            }
            let Some(table) = self.service.segment_table(&name) else { continue };
            builder.append(CATALOG, SCHEMA, &name, "TABLE", table.schema_ref().as_ref()).map_err(Status::from)?;
        }
        one_batch(builder.schema(), builder.build())
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        info(&table_types_schema(), query.as_any().encode_to_vec(), request.into_inner())
    }

    async fn do_get_table_types(
        &self,
        _query: CommandGetTableTypes,
        _request: Request<Ticket>,
    ) -> Result<Response<FlightStream>, Status> {
        let schema = Arc::new(table_types_schema());
        let types = Arc::new(datafusion::arrow::array::StringArray::from(vec!["TABLE"]));
        one_batch(Arc::clone(&schema), RecordBatch::try_new(schema, vec![types]))
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        info(
            query.clone().into_builder(sql_info()).schema().as_ref(),
            query.as_any().encode_to_vec(),
            request.into_inner(),
        )
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<FlightStream>, Status> {
        let builder = query.into_builder(sql_info());
        one_batch(builder.schema(), builder.build())
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

impl FlightSqlDoor {
    /// `principal`'s prepared statement of this handle; another's reads as missing.
    fn prepared(&self, query: &CommandPreparedStatementQuery, principal: &Principal) -> Result<Prepared, Status> {
        let mut prepared = self.prepared.lock();
        let statement = prepared
            .get_mut(query.prepared_statement_handle.as_ref())
            .filter(|s| s.owner == principal.name())
            .ok_or_else(no_such_statement)?;
        statement.used = Instant::now();
        Ok(statement.clone())
    }

    /// Keeps a new prepared statement; stale ones go first, then the least recently used
    /// past [`MAX_PREPARED`], so clients that never close cannot grow memory.
    fn keep_prepared(&self, handle: Vec<u8>, statement: Prepared) {
        let mut prepared = self.prepared.lock();
        let now = Instant::now();
        prepared.retain(|_, s| now.duration_since(s.used) < PREPARED_TTL);
        while prepared.len() >= MAX_PREPARED {
            let Some(oldest) = prepared.iter().min_by_key(|(_, s)| s.used).map(|(h, _)| h.clone()) else { break };
            prepared.remove(&oldest);
        }
        prepared.insert(handle, statement);
    }
}

fn no_such_statement() -> Status {
    Status::not_found("no such prepared statement (closed, or made on another broker)")
}

/// `?` placeholders (JDBC's and the ADBC driver's style) as DataFusion's `$1`, `$2`, … in
/// the order they appear; the rest of the text as it was.
fn number_placeholders(sql: &str) -> Result<String, datafusion::sql::sqlparser::tokenizer::TokenizerError> {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    let tokens = Tokenizer::new(&GenericDialect {}, sql).tokenize()?;
    if !tokens.iter().any(|t| matches!(t, Token::Placeholder(p) if p == "?")) {
        return Ok(sql.to_string());
    }
    let mut next = 0;
    Ok(tokens
        .into_iter()
        .map(|token| match token {
            Token::Placeholder(p) if p == "?" => {
                next += 1;
                format!("${next}")
            }
            other => other.to_string(),
        })
        .collect())
}

/// The parameters of a plan as Arrow fields `$1`, `$2`, … with their inferred types (Null
/// where the plan does not say).
fn parameter_fields(plan: &datafusion::logical_expr::LogicalPlan) -> Result<Vec<Field>, DataFusionError> {
    let mut types: Vec<(usize, Option<DataType>)> = plan
        .get_parameter_types()?
        .into_iter()
        .filter_map(|(name, data_type)| Some((name.strip_prefix('$')?.parse::<usize>().ok()?, data_type)))
        .collect();
    types.sort_by_key(|(position, _)| *position);
    Ok(types
        .into_iter()
        .map(|(position, data_type)| Field::new(format!("${position}"), data_type.unwrap_or(DataType::Null), true))
        .collect())
}

fn table_types_schema() -> Schema {
    Schema::new(vec![datafusion::arrow::datatypes::Field::new(
        "table_type",
        datafusion::arrow::datatypes::DataType::Utf8,
        false,
    )])
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("TLS for the Flight SQL door: reading {path}: {source}")]
    TlsFile { path: String, source: std::io::Error },
    #[error("the Flight SQL door: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Serves the door on `listener` until `shutdown` completes; over TLS when `tls` gives a
/// PEM certificate chain and key.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    door: FlightSqlDoor,
    tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let address = listener.local_addr().map_or_else(|_| "?".to_string(), |a| a.to_string());
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut builder = tonic::transport::Server::builder();
    if let Some((certificate, key)) = &tls {
        let read = |path: &std::path::PathBuf| {
            std::fs::read(path).map_err(|source| ServeError::TlsFile { path: path.display().to_string(), source })
        };
        let identity = tonic::transport::Identity::from_pem(read(certificate)?, read(key)?);
        builder = builder.tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))?;
    }
    tracing::info!(address = %address, tls = tls.is_some(), "Flight SQL door listening");
    let served = builder.add_service(door.into_service()).serve_with_incoming_shutdown(incoming, shutdown).await;
    match &served {
        Ok(()) => tracing::info!(address = %address, "Flight SQL door stopped"),
        Err(e) => tracing::error!(address = %address, error = %e, "Flight SQL door failed"),
    }
    Ok(served?)
}
