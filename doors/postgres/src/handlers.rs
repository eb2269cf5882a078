//! The door's pgwire handlers: datafusion-postgres' session service (parsing with its
//! Postgres rewrites, hooks, planning, Arrow → Postgres encoding) wrapped so that every
//! statement's rows can be cancelled or timed out ([`crate::cancel`]), every error gets
//! its SQLSTATE ([`crate::errors`]), and logins go through the configured method
//! ([`crate::auth`]).

use crate::auth::Authentication;
use crate::cancel::{watch_rows, Connections};
use crate::column_names::renamed;
use crate::empty_catalog::empty_answer;
use crate::errors::{code_of, error, with_sqlstate, QUERY_CANCELED, STATEMENT_TOO_COMPLEX, TOO_MANY_CONNECTIONS};
use crate::parameter_types::typed_by_client;
use crate::regproc::compare_regproc_by_name;
use crate::scalar_subquery::{is_unplannable_subquery_error, plannable_subqueries};
use async_trait::async_trait;
use cuvee_broker::budget::Admitted;
use cuvee_broker::metrics::{Door, StatementRecord};
use cuvee_broker::QueryService;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::pgwire::api::auth::StartupHandler;
use datafusion_postgres::pgwire::api::cancel::{CancelHandler, DefaultCancelHandler};
use datafusion_postgres::pgwire::api::portal::{Format, Portal};
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::results::{FieldInfo, Response};
use datafusion_postgres::pgwire::api::stmt::QueryParser;
use datafusion_postgres::pgwire::api::store::PortalStore;
use datafusion_postgres::pgwire::api::{
    ClientInfo, ClientPortalStore, ConnectionManager, ErrorHandler, PgWireServerHandlers, Type, METADATA_USER,
};
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::cancel::CancelRequest;
use datafusion_postgres::pgwire::messages::PgWireBackendMessage;
use datafusion_postgres::{DfSessionService, Parser};
use futures::{FutureExt, StreamExt};
use parking_lot::Mutex;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

type DfStatement = (String, Option<(Statement, LogicalPlan)>);

/// datafusion-postgres keeps a session's `SET statement_timeout` here (milliseconds).
const STATEMENT_TIMEOUT_KEY: &str = "statement_timeout_ms";

/// The statement being run on a connection, for the error position.
#[derive(Clone)]
struct CurrentQuery(Arc<str>);

/// Everything a connection needs; one per door, shared by its connections.
pub struct Handlers {
    queries: Arc<Queries>,
    authentication: Arc<Authentication>,
    manager: Arc<ConnectionManager>,
    cancel: Arc<Cancel>,
}

impl Handlers {
    pub fn new(
        ctx: Arc<SessionContext>,
        service: DfSessionService,
        authentication: Authentication,
        default_timeout: Option<Duration>,
        broker: Arc<QueryService>,
    ) -> Handlers {
        let service = Arc::new(service);
        let connections = Arc::new(Connections::default());
        let manager = Arc::new(ConnectionManager::new());
        let parser = Arc::new(QueryTextParser { inner: service.query_parser(), ctx });
        Handlers {
            queries: Arc::new(Queries {
                inner: service,
                parser,
                connections: Arc::clone(&connections),
                default_timeout,
                broker,
            }),
            authentication: Arc::new(authentication),
            cancel: Arc::new(Cancel {
                planning: DefaultCancelHandler::new(Arc::clone(&manager)),
                streaming: connections,
            }),
            manager,
        }
    }
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        Arc::clone(&self.queries)
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        Arc::clone(&self.queries)
    }

    /// Called once per connection: login handlers keep per-connection state.
    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        Arc::new(self.authentication.handler(Arc::clone(&self.manager)))
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(Sqlstates)
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        Arc::clone(&self.cancel)
    }
}

/// Gives engine errors their SQLSTATE before they are sent.
struct Sqlstates;

impl ErrorHandler for Sqlstates {
    fn on_error<C: ClientInfo>(&self, client: &C, error: &mut PgWireError) {
        let query = client.session_extensions().get::<CurrentQuery>();
        with_sqlstate(error, query.as_ref().map(|q| q.0.as_ref()));
        tracing::debug!("postgres door: {error}");
    }
}

/// A cancel request stops the statement wherever it is: planning (pgwire's race) or streaming.
struct Cancel {
    planning: DefaultCancelHandler,
    streaming: Arc<Connections>,
}

#[async_trait]
impl CancelHandler for Cancel {
    async fn on_cancel_request(&self, request: CancelRequest) {
        self.streaming.cancel(request.pid, &request.secret_key.to_bytes());
        self.planning.on_cancel_request(request).await;
    }
}

pub struct Queries {
    inner: Arc<DfSessionService>,
    parser: Arc<QueryTextParser>,
    connections: Arc<Connections>,
    default_timeout: Option<Duration>,
    /// Admission and the longest statement, shared with the other doors.
    broker: Arc<QueryService>,
}

impl Queries {
    /// The session's `statement_timeout`, else the door's default, never past the
    /// broker's longest statement (0 in the session means "none", which is that longest).
    fn timeout(&self, client: &impl ClientInfo) -> Duration {
        let longest = self.broker.limits().max_timeout;
        let session = client.metadata().get(STATEMENT_TIMEOUT_KEY).and_then(|ms| ms.parse::<u64>().ok());
        let chosen = match session {
            Some(0) => None,
            Some(ms) => Some(Duration::from_millis(ms)),
            None => self.default_timeout,
        };
        chosen.map_or(longest, |t| t.min(longest))
    }

    /// A place among the statements running at once, or 53300 when none frees up.
    async fn admit(&self) -> PgWireResult<Admitted> {
        self.broker.admit().await.map_err(|e| error(TOO_MANY_CONNECTIONS, e.to_string()))
    }

    /// The statement's place in the door's metrics and the list of running statements.
    fn record(&self, client: &impl ClientInfo, sql: &str) -> StatementRecord {
        let user = client.metadata().get(METADATA_USER).map_or("", String::as_str);
        self.broker.metrics().start(Door::Postgres, user, sql)
    }

    /// The response's rows, renamed, cancellable, timed, counted, and holding the
    /// statement's admission until they are read or dropped.
    fn watched(
        &self,
        response: Response,
        client: &impl ClientInfo,
        admitted: Arc<Admitted>,
        record: Arc<Mutex<StatementRecord>>,
    ) -> Response {
        match response {
            Response::Query(mut query) => {
                query.row_schema = Arc::new(renamed(&query.row_schema));
                let signal = self.connections.signal_of(client);
                let rows = std::mem::replace(query.data_rows(), Box::pin(futures::stream::empty()));
                let mut rows = watch_rows(rows, &signal, Some(self.timeout(client)));
                let mut cancelled = Some(Box::pin(record.lock().cancelled()));
                // Rows are counted here and added to the record once, when the stream ends
                // or is dropped: no lock per row.
                let mut sent = SentRows { record: Arc::clone(&record), rows: 0 };
                *query.data_rows() = Box::pin(futures::stream::poll_fn(move |cx| {
                    let _held = &admitted;
                    // The whole counter moves in (a closure would capture just its field).
                    let sent = &mut sent;
                    let Some(cancel) = cancelled.as_mut() else { return Poll::Ready(None) };
                    if cancel.poll_unpin(cx).is_ready() {
                        cancelled = None;
                        let stopped = error(QUERY_CANCELED, "canceling statement due to DELETE /query/{id}");
                        record.lock().failed(QUERY_CANCELED);
                        return Poll::Ready(Some(Err(stopped)));
                    }
                    let polled = rows.poll_next_unpin(cx);
                    match &polled {
                        Poll::Ready(Some(Ok(_))) => sent.rows += 1,
                        Poll::Ready(Some(Err(e))) => record.lock().failed(code_of(e)),
                        Poll::Ready(None) => record.lock().succeeded(),
                        Poll::Pending => {}
                    }
                    polled
                }));
                Response::Query(query)
            }
            Response::Error(info) => {
                record.lock().failed(info.code.clone());
                Response::Error(info)
            }
            other => {
                record.lock().succeeded();
                other
            }
        }
    }
}

#[async_trait]
impl SimpleQueryHandler for Queries {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + futures::Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as futures::Sink<PgWireBackendMessage>>::Error>,
    {
        client.session_extensions().insert(CurrentQuery(Arc::from(query)));
        let record = self.record(client, query);
        if let Err(e) = too_complex(query) {
            return Err(failed(record, e, query));
        }
        // Fails only while rows stream, too late to retry: repaired up front.
        let by_name = compare_regproc_by_name(query);
        let query = by_name.as_deref().unwrap_or(query);
        let admitted = match self.admit().await {
            Ok(admitted) => admitted,
            Err(e) => return Err(failed(record, e, query)),
        };
        let responses = match SimpleQueryHandler::do_query(self.inner.as_ref(), client, query).await {
            Err(e) => match repaired(query, &e.to_string()) {
                Some(rewritten) => match SimpleQueryHandler::do_query(self.inner.as_ref(), client, &rewritten).await {
                    Ok(responses) => responses,
                    Err(e) => return Err(failed(record, e, &rewritten)),
                },
                None => return Err(failed(record, e, query)),
            },
            Ok(responses) => responses,
        };
        // The statements of one simple query run one after another: one place (and one
        // record) serves them.
        let admitted = Arc::new(admitted);
        let record = Arc::new(Mutex::new(record));
        Ok(responses
            .into_iter()
            .map(|response| self.watched(response, client, Arc::clone(&admitted), Arc::clone(&record)))
            .collect())
    }
}

#[async_trait]
impl ExtendedQueryHandler for Queries {
    type Statement = DfStatement;
    type QueryParser = QueryTextParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        Arc::clone(&self.parser)
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + futures::Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as futures::Sink<PgWireBackendMessage>>::Error>,
    {
        let sql = portal.statement.statement.0.as_str();
        client.session_extensions().insert(CurrentQuery(Arc::from(sql)));
        let record = self.record(client, sql);
        let admitted = match self.admit().await {
            Ok(admitted) => admitted,
            Err(e) => return Err(failed(record, e, sql)),
        };
        let response = match ExtendedQueryHandler::do_query(self.inner.as_ref(), client, portal, max_rows).await {
            Ok(response) => response,
            Err(e) => return Err(failed(record, e, sql)),
        };
        Ok(self.watched(response, client, Arc::new(admitted), Arc::new(Mutex::new(record))))
    }
}

/// Rows a response stream sent, added to its statement's record when the stream goes.
struct SentRows {
    record: Arc<Mutex<StatementRecord>>,
    rows: u64,
}

impl Drop for SentRows {
    fn drop(&mut self) {
        self.record.lock().add_rows(self.rows);
    }
}

/// `e`, given its SQLSTATE now so the statement's record counts it under that code.
fn failed(mut record: StatementRecord, mut e: PgWireError, sql: &str) -> PgWireError {
    with_sqlstate(&mut e, Some(sql));
    record.failed(code_of(&e));
    e
}

/// datafusion-postgres' parser, remembering the statement text for error positions.
pub struct QueryTextParser {
    inner: Arc<Parser>,
    ctx: Arc<SessionContext>,
}

impl QueryTextParser {
    /// DataFusion finds an unplannable subquery only when it plans for execution; trying
    /// that at Parse (parameters unbound) lets a statement that needs the rewrite be stored
    /// rewritten. The planner's message, if it is that failure.
    async fn unplannable_subquery(&self, plan: &LogicalPlan) -> Option<String> {
        let state = self.ctx.state();
        let planned = match state.optimize(plan) {
            Ok(optimized) => state.create_physical_plan(&optimized).await.map(|_| ()),
            Err(e) => Err(e),
        };
        planned.err().map(|e| e.to_string()).filter(|m| is_unplannable_subquery_error(m))
    }
}

#[async_trait]
impl QueryParser for QueryTextParser {
    type Statement = DfStatement;

    async fn parse_sql<C>(&self, client: &C, sql: &str, types: &[Option<Type>]) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        client.session_extensions().insert(CurrentQuery(Arc::from(sql)));
        too_complex(sql)?;
        let by_name = compare_regproc_by_name(sql);
        let sql = by_name.as_deref().unwrap_or(sql);
        let mut parsed = self.inner.parse_sql(client, sql, types).await;
        let client_typed = match &parsed {
            Ok(Some((_, Some((_, plan))))) => typed_by_client(sql, plan, types),
            _ => None,
        };
        let sql = match &client_typed {
            Some(typed) => {
                parsed = self.inner.parse_sql(client, typed, types).await;
                typed.as_str()
            }
            None => sql,
        };
        let failure = match &parsed {
            Err(e) => Some(e.to_string()),
            Ok(Some((_, Some((_, plan))))) if sql.to_ascii_lowercase().contains("(select") => {
                self.unplannable_subquery(plan).await
            }
            Ok(_) => None,
        };
        match failure.and_then(|message| repaired(sql, &message)) {
            Some(rewritten) => self.inner.parse_sql(client, &rewritten, types).await,
            None => parsed,
        }
    }

    fn get_parameter_types(&self, statement: &Self::Statement) -> PgWireResult<Vec<Type>> {
        self.inner.get_parameter_types(statement)
    }

    fn get_result_schema(
        &self,
        statement: &Self::Statement,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        self.inner.get_result_schema(statement, column_format).map(|fields| renamed(&fields))
    }
}

/// 54001 (statement_too_complex, as Postgres names it) for a statement whose parse could
/// run away ([`cuvee_query::complexity`]).
fn too_complex(sql: &str) -> PgWireResult<()> {
    cuvee_query::check_complexity(sql).map_err(|e| error(STATEMENT_TOO_COMPLEX, e.to_string()))
}

/// A statement DataFusion could not plan (`message`), rewritten into one it can with the
/// same answer; see [`crate::scalar_subquery`] and [`crate::empty_catalog`].
fn repaired(sql: &str, message: &str) -> Option<String> {
    if is_unplannable_subquery_error(message) {
        if let Some(rewritten) = plannable_subqueries(sql) {
            return Some(rewritten);
        }
    }
    empty_answer(sql)
}
