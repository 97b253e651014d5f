//! Running one statement (spec §6, §7): query-request, long-poll (333333) and async
//! (333334) result polling, then the [`ResultStream`].

use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::binding::encode_bindings;
use crate::error::Error;
use crate::http::Purpose;
use crate::result::chunks::ChunkContext;
use crate::result::ResultStream;
use crate::retry::{async_poll_sleep, Deadline, RequestKind};
use crate::session::{envelope_error, Session};
use crate::types::Query;
use crate::wire::{Envelope, QueryData};

/// Still running; GET `getResultUrl` again at once (long-poll).
pub(crate) const QUERY_IN_PROGRESS: &str = "333333";
/// Still running (async submission); GET `getResultUrl` again after a sleep.
pub(crate) const QUERY_IN_PROGRESS_ASYNC: &str = "333334";

/// The JSON body of a query-request.
pub(crate) fn query_body(query: &Query, sequence_id: u64) -> Value {
    let mut parameters: Map<String, Value> = query.parameters.clone();
    if let Some(tag) = &query.query_tag {
        parameters.insert("QUERY_TAG".into(), Value::String(tag.clone()));
    }
    let mut body = json!({
        "sqlText": query.sql,
        "asyncExec": query.async_exec,
        "sequenceId": sequence_id,
        "querySubmissionTime": chrono::Utc::now().timestamp_millis(),
        "isInternal": false,
        "describeOnly": query.describe_only,
        "parameters": parameters,
        "queryContextDTO": {},
    });
    if !query.bindings.is_empty() {
        body["bindings"] = Value::Object(encode_bindings(&query.bindings));
    }
    body
}

fn result_path(env: &Envelope) -> Result<String, Error> {
    if let Some(url) = env.data_str("getResultUrl").filter(|u| !u.is_empty()) {
        return Ok(url);
    }
    match env.data_str("queryId") {
        Some(id) if !id.is_empty() => Ok(format!("/queries/{id}/result")),
        _ => Err(Error::Protocol(
            "query still running but the server gave no getResultUrl or queryId".into(),
        )),
    }
}

pub(crate) async fn run(session: &Session, query: Query) -> Result<ResultStream, Error> {
    let config = &session.config;
    let deadline = Deadline::after(config.timeouts.query);
    let body = serde_json::to_vec(&query_body(&query, session.next_sequence_id()))
        .map_err(|e| Error::Protocol(format!("cannot encode the query request: {e}")))?;
    let mut env = session
        .request(
            RequestKind::Query,
            Purpose::Query,
            deadline,
            Method::POST,
            "/queries/v1/query-request",
            query.request_id,
            Some(&body),
            config.timeouts.request,
        )
        .await?;
    let mut polls = 0usize;
    while env.success && matches!(env.code(), QUERY_IN_PROGRESS | QUERY_IN_PROGRESS_ASYNC) {
        if env.code() == QUERY_IN_PROGRESS_ASYNC {
            let sleep = async_poll_sleep(polls);
            if !deadline.allows(sleep) {
                return Err(Error::Timeout(format!(
                    "query {} still running at the deadline",
                    env.data_str("queryId").unwrap_or_default()
                )));
            }
            tokio::time::sleep(sleep).await;
        }
        polls += 1;
        let path = result_path(&env)?;
        env = session
            .request(
                RequestKind::QueryResult,
                Purpose::Other,
                deadline,
                Method::GET,
                &path,
                query.request_id,
                None,
                config.timeouts.request,
            )
            .await?;
    }
    if !env.success {
        return Err(envelope_error(&env));
    }
    let data: QueryData = match env.data {
        Some(v) => serde_json::from_value(v)
            .map_err(|e| Error::Protocol(format!("unexpected query response: {e}")))?,
        None => {
            return Err(Error::Protocol(
                "the query succeeded but the response has no data".into(),
            ))
        }
    };
    let client = session.chunk_client.clone();
    let chunk_timeout = config.timeouts.chunk;
    let retry = config.retry.clone();
    let budget = session.http.budget.clone();
    let events = session.http.events.clone();
    ResultStream::from_response(
        data,
        move |d| {
            Ok(ChunkContext {
                client,
                headers: ChunkContext::headers_for(d.chunk_headers.as_ref(), d.qrmk.as_deref())?,
                timeout: chunk_timeout,
                retry,
                budget,
                events,
            })
        },
        config.chunk_prefetch,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Binding;

    #[test]
    fn body_shape() {
        let mut q = Query::new("select ?, ?")
            .bind(Binding::Int(42))
            .bind(Binding::Text("hi".into()))
            .tag("pg:1234");
        q.parameters
            .insert("MULTI_STATEMENT_COUNT".into(), 1.into());
        q.describe_only = true;
        let b = query_body(&q, 7);
        assert_eq!(b["sqlText"], "select ?, ?");
        assert_eq!(b["sequenceId"], 7);
        assert_eq!(b["asyncExec"], false);
        assert_eq!(b["describeOnly"], true);
        assert_eq!(b["parameters"]["QUERY_TAG"], "pg:1234");
        assert_eq!(b["parameters"]["MULTI_STATEMENT_COUNT"], 1);
        assert_eq!(b["bindings"]["1"], json!({"type":"FIXED","value":"42"}));
        assert_eq!(b["bindings"]["2"], json!({"type":"TEXT","value":"hi"}));
        assert!(b["querySubmissionTime"].as_i64().unwrap() > 1_700_000_000_000);
        let plain = query_body(&Query::new("select 1"), 1);
        assert!(plain.get("bindings").is_none());
    }

    #[test]
    fn result_paths() {
        let e: Envelope = serde_json::from_str(
            r#"{"success":true,"code":"333333","data":{"queryId":"01a","getResultUrl":"/queries/01a/result"}}"#,
        )
        .unwrap();
        assert_eq!(result_path(&e).unwrap(), "/queries/01a/result");
        let e: Envelope =
            serde_json::from_str(r#"{"success":true,"code":"333334","data":{"queryId":"01b"}}"#)
                .unwrap();
        assert_eq!(result_path(&e).unwrap(), "/queries/01b/result");
    }
}
