//! Running one statement: admission, planning, execution on the query runtime, rows
//! streamed through a bounded channel (a client that stops reading stops the query), the
//! server's statement timeout, a cancel by id (`DELETE /query/{id}`), a panic turned into
//! an error — and the statement's record in the door's metrics throughout.

use super::{encode, to_status, FlightSqlDoor, FlightStream};
use cuvee_access::Principal;
use cuvee_broker::metrics::{Door, StatementRecord};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use futures::StreamExt;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;
use tonic::{Response, Status};

impl FlightSqlDoor {
    /// Plans and runs `sql` on the query runtime once admitted; batches come through a
    /// channel so a client that stops reading (or goes away) stops the query, and the
    /// statement ends with DEADLINE_EXCEEDED at the server's statement timeout.
    pub(crate) async fn run(
        &self,
        sql: String,
        parameters: Option<Vec<ScalarValue>>,
        principal: &Principal,
    ) -> Result<Response<FlightStream>, Status> {
        let mut record = self.service.metrics().start(Door::Flight, principal.name(), &sql);
        let failed = |record: &mut StatementRecord, status: Status| {
            record.failed(format!("{:?}", status.code()));
            status
        };
        let admitted = match self.service.admit().await {
            Ok(admitted) => admitted,
            Err(e) => {
                let status = cuvee_proto::status(cuvee_error::ErrorExt::kind(&e), e.to_string());
                return Err(failed(&mut record, status));
            }
        };
        let frame = self.plan(&sql, parameters, principal).await.map_err(|s| failed(&mut record, s))?;
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let task = self.service.bounded_task(frame.task_ctx()).map_err(|e| failed(&mut record, to_status(e)))?;
        let timeout = self.service.limits().max_timeout;
        let plan = frame.create_physical_plan().await.map_err(|e| failed(&mut record, to_status(e)))?;
        let runtime = self
            .service
            .runtime_handle()
            .ok_or_else(|| failed(&mut record, Status::unavailable("the broker is shutting down")))?;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<RecordBatch, arrow_flight::error::FlightError>>(2);
        let failure = tx.clone();
        let expired = tx.clone();
        let cancelled = record.cancelled();
        let recorded = Arc::new(Mutex::new(record));
        let counted = Arc::clone(&recorded);
        let work = async move {
            let mut stream = match datafusion::physical_plan::execute_stream(plan, task) {
                Ok(stream) => stream,
                Err(e) => {
                    let status = to_status(e);
                    counted.lock().failed(format!("{:?}", status.code()));
                    let _ = tx.send(Err(arrow_flight::error::FlightError::Tonic(Box::new(status)))).await;
                    return;
                }
            };
            while let Some(batch) = stream.next().await {
                let item = batch.map_err(|e| {
                    let status = to_status(e);
                    counted.lock().failed(format!("{:?}", status.code()));
                    arrow_flight::error::FlightError::Tonic(Box::new(status))
                });
                let rows = item.as_ref().map_or(0, |b| b.num_rows() as u64);
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    // Sent rows count even when the client stops reading (abandoned).
                    return;
                }
                counted.lock().add_rows(rows);
            }
            counted.lock().succeeded();
        };
        // A panic while rows stream ends the stream with an error, never a short answer.
        runtime.spawn(async move {
            let _admitted = admitted;
            let work =
                tokio::time::timeout(timeout, futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(work)));
            let work = tokio::select! {
                finished = work => finished,
                () = cancelled => {
                    recorded.lock().failed(format!("{:?}", tonic::Code::Cancelled));
                    // The statement has stopped: its place goes to the next one now, not when
                    // the client reads the news (it may never).
                    drop(_admitted);
                    let status = Status::cancelled("the statement was cancelled (DELETE /query/{id})");
                    let told = failure.send(Err(arrow_flight::error::FlightError::Tonic(Box::new(status))));
                    let _ = tokio::time::timeout(Duration::from_secs(30), told).await;
                    return;
                }
            };
            let Ok(finished) = work else {
                recorded.lock().failed(format!("{:?}", tonic::Code::DeadlineExceeded));
                let status = cuvee_proto::status(
                    cuvee_error::ErrorKind::Timeout,
                    format!(
                        "the statement ran longer than the server's {} ms (--max-query-timeout-ms)",
                        timeout.as_millis()
                    ),
                );
                let _ = expired.send(Err(arrow_flight::error::FlightError::Tonic(Box::new(status)))).await;
                return;
            };
            if let Err(panic) = finished {
                recorded.lock().failed(format!("{:?}", tonic::Code::Internal));
                let message = cuvee_error::panic_message(panic.as_ref());
                tracing::error!(panic = %message, "a Flight SQL statement panicked");
                let status = cuvee_proto::status(
                    cuvee_error::ErrorKind::Internal,
                    format!("the statement failed (a panic: {message})"),
                );
                let _ = failure.send(Err(arrow_flight::error::FlightError::Tonic(Box::new(status)))).await;
            }
        });
        let batches = tokio_stream::wrappers::ReceiverStream::new(rx);
        Ok(Response::new(encode(schema, batches)))
    }
}
