//! The server's settings as a Postgres client sees them: the parameters sent at startup,
//! `SHOW`, `current_setting()`, `version()`, and the session statements tools send that
//! cuvee answers without doing anything (`DISCARD ALL`, `DEALLOCATE`, `SET` of a setting
//! that has no meaning here).
//!
//! Values a session changes with `SET` are kept in the connection's metadata (by
//! datafusion-postgres' `SetShowHook`, which runs after this one) and `SHOW` reads them
//! back; `current_setting()` is a plain function without the session, so it answers the
//! server's defaults.

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::{exec_err, ParamValues, ToDFSchema};
use datafusion::logical_expr::{
    ColumnarValue, EmptyRelation, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Set, Statement};
use datafusion_postgres::hooks::{HookClient, QueryHook};
use datafusion_postgres::pgwire::api::auth::DefaultServerParameterProvider;
use datafusion_postgres::pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo, QueryResponse, Response, Tag};
use datafusion_postgres::pgwire::api::{ClientInfo, Type};
use datafusion_postgres::pgwire::error::PgWireResult;
use std::sync::Arc;

use crate::errors::{error, FEATURE_NOT_SUPPORTED, UNDEFINED_OBJECT};

/// The PostgreSQL release whose protocol and catalog cuvee follows; tools gate features on it.
pub const POSTGRES_VERSION: &str = "16.6";
pub const POSTGRES_VERSION_NUM: &str = "160006";

pub fn server_version() -> String {
    format!("{POSTGRES_VERSION} (cuvee {})", env!("CARGO_PKG_VERSION"))
}

/// What `version()` answers: Postgres' shape, so tools that parse it find a version.
pub fn version_string() -> String {
    format!(
        "PostgreSQL {POSTGRES_VERSION} (cuvee {}) on {}-linux, compiled by rustc, 64-bit",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    )
}

/// The parameters reported at startup (those Postgres marks `GUC_REPORT`).
pub fn startup_parameters() -> DefaultServerParameterProvider {
    let mut parameters = DefaultServerParameterProvider::default();
    parameters.server_version = server_version();
    parameters
}

/// A setting's value when the session has not changed it; `None` for a setting cuvee does not know.
pub fn default_setting(name: &str) -> Option<String> {
    // Read per row by current_setting(): build the startup parameters once.
    static STARTUP: std::sync::LazyLock<DefaultServerParameterProvider> = std::sync::LazyLock::new(startup_parameters);
    let startup = &*STARTUP;
    let on_off = |b: bool| if b { "on" } else { "off" }.to_string();
    let value = match name.to_ascii_lowercase().as_str() {
        "server_version" => server_version(),
        "server_version_num" => POSTGRES_VERSION_NUM.to_string(),
        "server_encoding" => startup.server_encoding.clone(),
        "client_encoding" => "UTF8".to_string(),
        "datestyle" => startup.date_style.clone(),
        "timezone" => startup.time_zone.clone(),
        "intervalstyle" => startup.interval_style.clone(),
        "integer_datetimes" => on_off(startup.integer_datetimes),
        "standard_conforming_strings" => on_off(startup.standard_conforming_strings),
        "search_path" => startup.search_path.clone(),
        "is_superuser" => on_off(startup.is_superuser),
        "application_name" => String::new(),
        "transaction_isolation" | "default_transaction_isolation" => "read committed".to_string(),
        "transaction_read_only" | "default_transaction_read_only" => "off".to_string(),
        "max_identifier_length" => "63".to_string(),
        "max_index_keys" => "32".to_string(),
        "block_size" => "8192".to_string(),
        "bytea_output" => "hex".to_string(),
        "extra_float_digits" => "1".to_string(),
        "statement_timeout" | "lock_timeout" | "idle_in_transaction_session_timeout" => "0".to_string(),
        "client_min_messages" => "notice".to_string(),
        "lc_collate" | "lc_ctype" | "lc_messages" | "lc_monetary" | "lc_numeric" | "lc_time" => "C.UTF-8".to_string(),
        "max_connections" => "1000".to_string(),
        "in_hot_standby" => "off".to_string(),
        _ => return None,
    };
    Some(value)
}

/// `SHOW`'s name for a variable written in several words.
fn show_name(words: &[String]) -> String {
    match words.iter().map(|w| w.to_ascii_lowercase()).collect::<Vec<_>>().join(" ").as_str() {
        "time zone" => "timezone".to_string(),
        "transaction isolation level" => "transaction_isolation".to_string(),
        other => other.replace(' ', "_"),
    }
}

fn show_value(name: &str, client: &dyn HookClient) -> Option<String> {
    if name == "timezone" {
        if let Some(zone) = client.metadata().get("timezone") {
            return Some(zone.clone());
        }
    }
    client.metadata().get(name).cloned().or_else(|| default_setting(name))
}

fn single_text_row(name: &str, value: &str) -> PgWireResult<Response> {
    let fields = Arc::new(vec![FieldInfo::new(name.to_string(), None, None, Type::TEXT, FieldFormat::Text)]);
    let mut encoder = DataRowEncoder::new(Arc::clone(&fields));
    encoder.encode_field(&Some(value))?;
    let row = encoder.take_row();
    Ok(Response::Query(QueryResponse::new(fields, futures::stream::iter([Ok(row)]))))
}

/// `SHOW`, the statements tools send that need no work, and a guard on engine settings.
#[derive(Debug)]
pub struct SessionStatements;

enum Answer {
    Show(String),
    Tag(&'static str),
    /// Leaves the transaction open (and no longer failed): `ROLLBACK TO SAVEPOINT`.
    StillInTransaction(&'static str),
    Refuse(String),
}

impl SessionStatements {
    fn answer(statement: &Statement) -> Option<Answer> {
        match statement {
            Statement::ShowVariable { variable } if !variable.is_empty() => {
                Some(Answer::Show(show_name(&variable.iter().map(|i| i.value.clone()).collect::<Vec<_>>())))
            }
            Statement::Discard { .. } => Some(Answer::Tag("DISCARD ALL")),
            Statement::Deallocate { .. } => Some(Answer::Tag("DEALLOCATE")),
            Statement::Set(Set::SingleAssignment { variable, .. })
                if variable.to_string().to_ascii_lowercase().starts_with("datafusion.") =>
            {
                // One session context serves every connection: a session may not retune it for all.
                Some(Answer::Refuse(format!("the engine setting {variable} cannot be changed from a Postgres session")))
            }
            Statement::Set(Set::SetTransaction { .. }) => Some(Answer::Tag("SET")),
            // Drivers wrap statements in savepoints (psycopg in `transaction()`, SQLAlchemy's
            // nested transactions); with nothing to undo, each is accepted as it stands.
            Statement::Savepoint { .. } => Some(Answer::Tag("SAVEPOINT")),
            Statement::ReleaseSavepoint { .. } => Some(Answer::Tag("RELEASE")),
            Statement::Rollback { savepoint: Some(_), .. } => Some(Answer::StillInTransaction("ROLLBACK")),
            _ => None,
        }
    }

    fn respond(answer: Answer, client: &dyn HookClient) -> PgWireResult<Response> {
        match answer {
            Answer::Show(name) => match show_value(&name, client) {
                Some(value) => single_text_row(&name, &value),
                None => Err(error(UNDEFINED_OBJECT, format!("unrecognized configuration parameter \"{name}\""))),
            },
            Answer::Tag(tag) => Ok(Response::Execution(Tag::new(tag))),
            Answer::StillInTransaction(tag) => Ok(Response::TransactionStart(Tag::new(tag))),
            Answer::Refuse(message) => Err(error(FEATURE_NOT_SUPPORTED, message)),
        }
    }
}

#[async_trait]
impl QueryHook for SessionStatements {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        let answer = Self::answer(statement)?;
        Some(Self::respond(answer, client))
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        let fields = match Self::answer(statement)? {
            Answer::Show(name) => vec![Field::new(name, DataType::Utf8, false)],
            Answer::Tag(_) | Answer::StillInTransaction(_) | Answer::Refuse(_) => vec![],
        };
        let plan = Schema::new(fields).to_dfschema().map(|schema| {
            LogicalPlan::EmptyRelation(EmptyRelation { produce_one_row: true, schema: Arc::new(schema) })
        });
        Some(plan.map_err(|e| datafusion_postgres::pgwire::error::PgWireError::ApiError(Box::new(e))))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        let answer = Self::answer(statement)?;
        Some(Self::respond(answer, client))
    }
}

/// `version()` in Postgres' shape (DataFusion's own names DataFusion).
pub fn version_udf() -> ScalarUDF {
    let version = version_string();
    datafusion::logical_expr::create_udf(
        "version",
        vec![],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |_args: &[ColumnarValue]| Ok(ColumnarValue::Scalar(version.clone().into()))),
    )
}

/// `current_setting(name [, missing_ok])`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CurrentSetting {
    signature: Signature,
}

impl CurrentSetting {
    pub fn udf() -> ScalarUDF {
        let signature = Signature::one_of(
            vec![
                TypeSignature::Exact(vec![DataType::Utf8]),
                TypeSignature::Exact(vec![DataType::Utf8, DataType::Boolean]),
            ],
            Volatility::Stable,
        );
        ScalarUDF::new_from_impl(CurrentSetting { signature })
    }
}

impl ScalarUDFImpl for CurrentSetting {
    fn name(&self) -> &str {
        "current_setting"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> datafusion::common::Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> datafusion::common::Result<ColumnarValue> {
        let missing_ok = match args.args.get(1) {
            Some(ColumnarValue::Scalar(datafusion::common::ScalarValue::Boolean(Some(ok)))) => *ok,
            _ => false,
        };
        let names = args.args[0].to_array(args.number_rows)?;
        let names = names
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| datafusion::error::DataFusionError::Internal("current_setting: name is not text".into()))?;
        let mut values = Vec::with_capacity(names.len());
        for name in names.iter() {
            match name.map(|n| (n, default_setting(n))) {
                None => values.push(None),
                Some((_, Some(value))) => values.push(Some(value)),
                Some((_, None)) if missing_ok => values.push(None),
                Some((name, None)) => return exec_err!("unrecognized configuration parameter \"{name}\""),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(StringArray::from(values)) as ArrayRef))
    }
}
