//! `GET /rest/activity` (API §9): the activity log with the DataTables parameters — `start`,
//! `length`, `search[value]`, `columns[n][data]`, `order[n][column]`, `order[n][columnName]`,
//! `order[n][dir]` — as `{recordsTotal, recordsFiltered, data: [ActivityData]}`.

use actix_web::{HttpResponse, web};
use lanyard_messaging::activity::{self, Activity, COLUMNS, Order};
use lanyard_web::auth::ManagementCaller;
use lanyard_web::{ApiError, AppState};
use std::collections::BTreeMap;

use lanyard_core::wire::timestamp as iso;

fn data(a: &Activity) -> serde_json::Value {
    let mut v = serde_json::json!({
        "userId": a.user_id, "startedAt": iso(a.started_at), "validTo": iso(a.valid_to),
        "applicationId": a.application_id, "progress": a.progress,
    });
    // Optional keys are left out rather than null, as in the PassBy[ME] examples.
    if let Some(ended) = a.ended_at {
        v["endedAt"] = serde_json::json!(iso(ended));
    }
    if let Some(name) = &a.application_name {
        v["applicationName"] = serde_json::json!(name);
    }
    v
}

fn number(field: &str, raw: Option<&String>) -> Result<Option<i64>, ApiError> {
    raw.map(|r| {
        r.parse::<i64>()
            .map_err(|_| ApiError::malformed(field, "must be a whole number"))
    })
    .transpose()
}

/// The orderings the query asks for, in `order[n]` order.
fn orders(params: &BTreeMap<String, String>) -> Result<Vec<Order>, ApiError> {
    let mut indexes: Vec<usize> = params
        .keys()
        .filter_map(|k| k.strip_prefix("order["))
        .filter_map(|k| k.split(']').next())
        .filter_map(|n| n.parse().ok())
        .collect();
    indexes.sort_unstable();
    indexes.dedup();
    let mut out = Vec::new();
    for n in indexes {
        let name = match (
            params.get(&format!("order[{n}][columnName]")),
            params.get(&format!("order[{n}][column]")),
        ) {
            (Some(name), _) => name.clone(),
            (None, Some(index)) => {
                let field = format!("order[{n}][column]");
                let i: usize = index
                    .parse()
                    .map_err(|_| ApiError::malformed(&field, "must be a column index"))?;
                params
                    .get(&format!("columns[{i}][data]"))
                    .cloned()
                    .ok_or_else(|| {
                        ApiError::malformed(&field, format!("columns[{i}][data] is not given"))
                    })?
            }
            (None, None) => continue,
        };
        let column = COLUMNS.iter().position(|c| *c == name).ok_or_else(|| {
            ApiError::malformed(
                &format!("order[{n}]"),
                format!("{name:?} is not one of {}", COLUMNS.join(", ")),
            )
        })?;
        let ascending = match params.get(&format!("order[{n}][dir]")).map(String::as_str) {
            None | Some("asc") => true,
            Some("desc") => false,
            Some(_) => {
                return Err(ApiError::malformed(
                    &format!("order[{n}][dir]"),
                    "must be asc or desc",
                ));
            }
        };
        out.push(Order { column, ascending });
    }
    Ok(out)
}

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    let params: BTreeMap<String, String> = query.into_inner().into_iter().collect();
    let page = lanyard_core::PageRequest::new(
        number("start", params.get("start"))?,
        number("length", params.get("length"))?,
        params.get("search[value]").cloned(),
    )
    .map_err(|e| ApiError::malformed(e.field, e.rule))?;
    let orders = orders(&params)?;
    let found = state
        .db(move |conn, clock| {
            activity::list(conn, clock, &caller.actor, &caller.account, &page, &orders)
        })
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "recordsTotal": found.records_total,
        "recordsFiltered": found.records_filtered,
        "data": found.data.iter().map(data).collect::<Vec<_>>(),
    })))
}
