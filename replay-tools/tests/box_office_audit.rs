//! Box-office money moves through the same transfers as the rest of the
//! ledger: after reservations, confirmations, an expiry, tickets given
//! back (full and partial refunds), a refusal and a show cancelled with
//! tickets and open reservations, over the real command API with its
//! box-office process, the read models sum to zero and `verify` finds
//! them equal to a fresh replay. The box office's own read models (live,
//! then rebuilt) say what the domain decided: seats, prices in force,
//! reservations and tickets.

mod common;

use std::time::Duration;

use commands::{AppState, BoxOfficeConfig, CommandsConfig};
use common::{project, run_ok};
use ledger::store::PgEventStore;
use ledger::testkit::database_url;
use projections::{BoxOffice, ProjectionsConfig, Runner, Step};
use sqlx::PgPool;

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    format!("http://{addr}")
}

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn post(&self, path: &str, key: &str, body: serde_json::Value) -> serde_json::Value {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("idempotency-key", key)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.expect("json");
        assert!((200..300).contains(&status), "{path}: {status} {body}");
        body
    }

    async fn refused(&self, path: &str, key: &str, body: serde_json::Value) -> String {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("idempotency-key", key)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 422);
        let body: serde_json::Value = response.json().await.expect("json");
        body["code"].as_str().unwrap_or_default().to_owned()
    }

    async fn get(&self, path: &str) -> serde_json::Value {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json")
    }

    async fn wait_show(&self, show: &str, status: &str) -> serde_json::Value {
        for _ in 0..200 {
            let found = self.get(&format!("/v1/shows/{show}")).await;
            if found["show"]["status"] == status && found["show"]["money_held"] == 0 {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{show} did not become {status}");
    }
}

fn show(id: &str, starts_at: &str, ttl_s: u32) -> serde_json::Value {
    serde_json::json!({
        "id": id, "name": id, "starts_at": starts_at, "currency": "EUR",
        "tiers": [
            { "name": "stalls", "capacity": 4, "base_price": 3_333,
              "steps": [{ "at_sold_bp": 5_000, "raise_bp": 1_500 }] },
            { "name": "circle", "capacity": 50, "base_price": 1_999 },
        ],
        "seats_per_customer_max": 4,
        "reservation_ttl_s": ttl_s,
        "refund_rule": { "full_refund_until_s_before": 86_400, "late_refund_bp": 3_333 },
    })
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn box_office_money_keeps_the_read_models_exact(pool: PgPool) {
    let config = CommandsConfig {
        box_office: BoxOfficeConfig {
            batch_items_max: 2,
            poll_interval_ms: 50,
            ..BoxOfficeConfig::default()
        },
        ..CommandsConfig::default()
    };
    let state = AppState::start(PgEventStore::new(pool.clone()), config);
    let api = Api {
        base: serve(commands::router(state)).await,
        http: reqwest::Client::new(),
    };
    // Within a day of the show a ticket given back returns a third.
    let soon = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    api.post("/v1/shows", "open-soon", show("soon", &soon, 1))
        .await;
    api.post(
        "/v1/shows",
        "open-later",
        show("later", "2099-01-01T20:00:00Z", 600),
    )
    .await;
    let mut confirmed = Vec::new();
    for (i, player) in ["ada", "bo", "cy"].iter().enumerate() {
        api.post(
            "/v1/accounts",
            &format!("open-{player}"),
            serde_json::json!({ "id": player, "currency": "EUR" }),
        )
        .await;
        api.post(
            &format!("/v1/accounts/{player}/deposits"),
            &format!("dep-{player}"),
            serde_json::json!({ "amount": 50_000 }),
        )
        .await;
        for s in ["soon", "later"] {
            let r = api
                .post(
                    &format!("/v1/shows/{s}/reservations"),
                    &format!("res-{player}-{s}"),
                    serde_json::json!({ "account": player, "tier": 0, "seats": 1 + i % 2 }),
                )
                .await;
            let id = r["reservation"]["id"].as_str().expect("id").to_owned();
            // cy leaves the one for "soon" to expire.
            if !(*player == "cy" && s == "soon") {
                let c = api
                    .post(
                        &format!("/v1/shows/{s}/reservations/{id}/confirm"),
                        &format!("confirm-{id}"),
                        serde_json::json!({}),
                    )
                    .await;
                confirmed.push((s, c["reservation"]["tickets"].clone()));
            }
        }
    }
    let code = api
        .refused(
            "/v1/shows/later/reservations",
            "too-many",
            serde_json::json!({ "account": "ada", "tier": 1, "seats": 4 }),
        )
        .await;
    assert_eq!(code, "too_many_seats");
    // A ticket given back on each show: a third back on "soon", all on "later".
    for (s, tickets) in confirmed.iter().take(2) {
        let ticket = tickets[0]["id"].as_str().expect("ticket");
        let back = api
            .post(
                &format!("/v1/shows/{s}/tickets/{ticket}/cancel"),
                &format!("back-{ticket}"),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(back["ticket"]["status"], "cancelled");
    }
    // One reservation left open on "later", then the show is cancelled.
    api.post(
        "/v1/shows/later/reservations",
        "res-open",
        serde_json::json!({ "account": "bo", "tier": 1, "seats": 1 }),
    )
    .await;
    api.post(
        "/v1/shows/later/cancel",
        "cancel-later",
        serde_json::json!({}),
    )
    .await;
    let later = api.wait_show("later", "cancelled").await;
    assert_eq!(later["show"]["money_taken"], 0);
    let soon = api.wait_show("soon", "on_sale").await;
    assert_eq!(soon["show"]["reservations_released"], 0);

    project(&pool).await;
    let (posted, pending): (i64, i64) = sqlx::query_as(
        "SELECT sum(posted_credits - posted_debits)::int8, sum(pending_credits - pending_debits)::int8 FROM account_balances",
    )
    .fetch_one(&pool)
    .await
    .expect("sums");
    assert_eq!((posted, pending), (0, 0));
    let revenue: i64 = sqlx::query_scalar(
        "SELECT (posted_credits - posted_debits)::int8 FROM account_balances WHERE account_id = 'box-office:revenue'",
    )
    .fetch_one(&pool)
    .await
    .expect("revenue");
    assert_eq!(
        revenue,
        soon["show"]["money_taken"].as_i64().expect("taken")
    );
    let report = String::from_utf8(run_ok(&database_url(&pool), &["verify"])).expect("utf-8");
    assert!(report.contains("match the replay"), "{report}");

    let runner = Runner::new(
        PgEventStore::new(pool.clone()),
        pool.clone(),
        BoxOffice,
        ProjectionsConfig::default(),
    )
    .expect("runner");
    while runner.step().await.expect("box office") != Step::Idle {}
    let live = box_office_rows(&pool).await;
    assert_eq!(
        live.shows,
        vec![
            "later|cancelled|600".to_owned(),
            "soon|on_sale|1".to_owned()
        ]
    );
    // "soon": ada's ticket given back and cy's reservation expired leave 2
    // of 4 stalls sold, so the 50% step raises the price by 15%.
    assert_eq!(
        live.tiers,
        vec![
            "later|0|stalls|4|0|0|4|3333",
            "later|1|circle|50|0|0|50|1999",
            "soon|0|stalls|4|2|0|2|3832",
            "soon|1|circle|50|0|0|50|1999",
        ]
    );
    assert_eq!(
        live.reservations_by_status,
        vec![
            "later|confirmed|3",
            "later|released|1",
            "soon|confirmed|2",
            "soon|expired|1"
        ]
    );
    // A third of 3,333 back within a day of "soon"; everything back on
    // "later" (one given back, three refunded by the cancellation).
    assert_eq!(
        live.tickets_by_status,
        vec![
            "later|refunded|4|13831",
            "soon|issued|2|0",
            "soon|refunded|1|1110"
        ]
    );
    run_ok(&database_url(&pool), &["rebuild", "box-office"]);
    assert_eq!(
        box_office_rows(&pool).await,
        live,
        "a rebuild says the same"
    );
}

#[derive(Debug, PartialEq)]
struct BoxOfficeRows {
    shows: Vec<String>,
    tiers: Vec<String>,
    reservations_by_status: Vec<String>,
    tickets_by_status: Vec<String>,
    reservations: Vec<String>,
    tickets: Vec<String>,
}

async fn box_office_rows(pool: &PgPool) -> BoxOfficeRows {
    let rows = |sql: &'static str| async move {
        sqlx::query_scalar::<_, String>(sql)
            .fetch_all(pool)
            .await
            .expect(sql)
    };
    BoxOfficeRows {
        shows: rows(
            "SELECT concat_ws('|', show_id, status, reservation_ttl_s) FROM shows ORDER BY show_id",
        )
        .await,
        tiers: rows(
            "SELECT concat_ws('|', show_id, tier, name, capacity, sold, reserved, seats_left, current_price) FROM show_tiers ORDER BY show_id, tier",
        )
        .await,
        reservations_by_status: rows(
            "SELECT concat_ws('|', show_id, status, count(*)) FROM show_reservations GROUP BY show_id, status ORDER BY 1",
        )
        .await,
        tickets_by_status: rows(
            "SELECT concat_ws('|', show_id, status, count(*), sum(refund)) FROM tickets GROUP BY show_id, status ORDER BY 1",
        )
        .await,
        reservations: rows(
            "SELECT concat_ws('|', reservation_id, show_id, tier, account_id, seats, unit_price, status, reserved_position, position) FROM show_reservations ORDER BY 1",
        )
        .await,
        tickets: rows(
            "SELECT concat_ws('|', ticket_id, reservation_id, show_id, tier, account_id, price, status, refund, issued_position, position) FROM tickets ORDER BY 1",
        )
        .await,
    }
}
