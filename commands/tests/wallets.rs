//! The `/v1` command API over HTTP, against the real Postgres.

mod common;

use commands::CommandsConfig;
use common::{spawn_app, spawn_app_with};
use sqlx::PgPool;

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_wallet_walks_through_every_command(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (status, opened) = app
        .post(
            "/v1/accounts",
            "k1",
            r#"{"id":"alice","currency":"EUR","credit_limit":500}"#,
        )
        .await;
    assert_eq!(status, 201, "{opened}");
    assert_eq!(opened["account"]["available"], 500);
    let first = opened["position"].as_i64().expect("position");

    let (status, deposited) = app
        .post(
            "/v1/accounts/alice/deposits",
            "k2",
            r#"{"amount":1000,"description":"top up"}"#,
        )
        .await;
    assert_eq!(status, 200, "{deposited}");
    assert_eq!(deposited["account"]["balance"], 1000);
    assert!(deposited["position"].as_i64().expect("position") > first);

    let (status, withdrawn) = app
        .post(
            "/v1/accounts/alice/withdrawals",
            "k3",
            r#"{"amount":1200,"currency":"EUR"}"#,
        )
        .await;
    assert_eq!(status, 200, "{withdrawn}");
    assert_eq!(withdrawn["account"]["balance"], -200);
    assert_eq!(withdrawn["account"]["available"], 300);

    let (status, held) = app
        .post("/v1/accounts/alice/holds", "k4", r#"{"amount":250}"#)
        .await;
    assert_eq!(status, 201, "{held}");
    assert_eq!(held["account"]["available"], 50);
    let hold = held["hold_id"].as_str().expect("hold id").to_owned();

    let (status, posted) = app.post(&format!("/v1/holds/{hold}/post"), "k5", "").await;
    assert_eq!(status, 200, "{posted}");
    assert_eq!(posted["status"], "posted");
    assert_eq!(posted["account"]["balance"], -450);

    let (status, again) = app
        .post(&format!("/v1/holds/{hold}/void"), "k6", "{}")
        .await;
    assert_eq!(status, 422);
    assert_eq!(again["code"], "hold_already_resolved");

    let (status, second) = app
        .post("/v1/accounts/alice/holds", "k7", r#"{"amount":50}"#)
        .await;
    assert_eq!(status, 201);
    let hold2 = second["hold_id"].as_str().expect("hold id").to_owned();
    let (status, voided) = app.post(&format!("/v1/holds/{hold2}/void"), "k8", "").await;
    assert_eq!(status, 200);
    assert_eq!(voided["account"]["available"], 50);

    let (status, shown) = app.get(&app.api, "/v1/accounts/alice").await;
    assert_eq!(status, 200);
    assert_eq!(shown["account"]["balance"], -450);
    assert_eq!(shown["account"]["version"], 7);
    assert_eq!(shown["account"]["pending_holds"], 0);
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn rejections_have_stable_codes(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.open("bob", 0).await;
    let cases = [
        (
            "/v1/accounts/bob/withdrawals",
            r#"{"amount":1}"#,
            "insufficient_funds",
        ),
        (
            "/v1/accounts/nobody/deposits",
            r#"{"amount":1}"#,
            "account_not_found",
        ),
        (
            "/v1/accounts",
            r#"{"id":"bob","currency":"EUR"}"#,
            "account_exists",
        ),
        (
            "/v1/accounts/bob/deposits",
            r#"{"amount":1,"currency":"USD"}"#,
            "currency_mismatch",
        ),
        (
            "/v1/holds/0190a5b4-0000-7000-8000-000000000000/post",
            "",
            "hold_not_found",
        ),
        ("/v1/holds/not-a-uuid/void", "", "hold_not_found"),
        (
            "/v1/accounts/house/deposits",
            r#"{"amount":1}"#,
            "invalid_account_id",
        ),
        ("/v1/accounts", r#"{"currency":"euro"}"#, "invalid_currency"),
        (
            "/v1/accounts/bob/withdrawals",
            r#"{"amount":1,"payment_ref":"two words"}"#,
            "invalid_payment_ref",
        ),
        (
            "/v1/accounts/bob/holds",
            r#"{"amount":1,"payment_ref":"pi_1"}"#,
            "invalid_request",
        ),
        (
            "/v1/accounts",
            r#"{"currency":"EUR","credit_limit":-1}"#,
            "invalid_credit_limit",
        ),
    ];
    for (i, (path, body, code)) in cases.into_iter().enumerate() {
        let (status, problem) = app.post(path, &format!("r{i}"), body).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (422, Some(code)),
            "{path} {body}: {problem}"
        );
    }
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn bad_input_is_a_4xx_never_a_500(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.open("carol", 0).await;
    let path = "/v1/accounts/carol/deposits";
    let huge = format!(
        r#"{{"amount":1,"description":"{}"}}"#,
        "x".repeat(70 * 1024)
    );
    let cases: Vec<(String, u16, &str)> = vec![
        ("{not json".into(), 400, "malformed_json"),
        (r#"{"amount":10,"extra":1}"#.into(), 422, "invalid_request"),
        (r#"{"amount":"10"}"#.into(), 422, "invalid_request"),
        (r#"{"amount":1.5}"#.into(), 422, "invalid_request"),
        (r#"{}"#.into(), 422, "invalid_request"),
        (r#"{"amount":0}"#.into(), 422, "invalid_amount"),
        (r#"{"amount":-3}"#.into(), 422, "invalid_amount"),
        (
            r#"{"amount":9223372036854775808}"#.into(),
            422,
            "invalid_request",
        ),
        (
            r#"{"amount":1,"description":""}"#.into(),
            422,
            "invalid_description",
        ),
        (
            format!(r#"{{"amount":1,"payment_ref":"{}"}}"#, "x".repeat(65)),
            422,
            "invalid_payment_ref",
        ),
        (
            r#"{"amount":1,"payment_ref":7}"#.into(),
            422,
            "invalid_request",
        ),
        (huge, 413, "body_too_large"),
    ];
    for (i, (body, status, code)) in cases.into_iter().enumerate() {
        let (got, problem) = app.post(path, &format!("bad{i}"), &body).await;
        assert_eq!(
            (got, problem["code"].as_str()),
            (status, Some(code)),
            "{}: {problem}",
            &body[..body.len().min(60)]
        );
    }
    // No key, and an unusable key.
    let response = app
        .http
        .post(format!("{}{path}", app.api))
        .body(r#"{"amount":1}"#)
        .send()
        .await
        .expect("send");
    let (status, problem) = common::read(response).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("idempotency_key_missing"))
    );
    let (status, problem) = app.post(path, &"k".repeat(201), r#"{"amount":1}"#).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("idempotency_key_invalid"))
    );
    // A deposit so large that the account's totals would overflow.
    let (status, _) = app
        .post(path, "max", r#"{"amount":9223372036854775807}"#)
        .await;
    assert_eq!(status, 200);
    let (status, problem) = app.post(path, "over", r#"{"amount":1}"#).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("invalid_amount"))
    );
    let (status, problem) = app.get(&app.api, "/v1/accounts/nobody").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("account_not_found"))
    );
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_repeated_key_answers_the_same_and_changes_nothing(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.open("dave", 0).await;
    let first = app
        .post("/v1/accounts/dave/deposits", "dep-1", r#"{"amount":100}"#)
        .await;
    // Same request, spelt differently: a repeat.
    let again = app
        .post(
            "/v1/accounts/dave/deposits",
            "dep-1",
            r#"{ "amount" : 100 }"#,
        )
        .await;
    assert_eq!(first, again);
    let (_, shown) = app.get(&app.api, "/v1/accounts/dave").await;
    assert_eq!(shown["account"]["balance"], 100);

    let (status, problem) = app
        .post("/v1/accounts/dave/deposits", "dep-1", r#"{"amount":101}"#)
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("idempotency_key_reused"))
    );
    let (status, _) = app
        .post(
            "/v1/accounts/dave/withdrawals",
            "dep-1",
            r#"{"amount":100}"#,
        )
        .await;
    assert_eq!(status, 409, "the same key on another route is a reuse");

    // A rejection is an outcome too: its repeat is the same rejection, even
    // after the account could afford it.
    let rejected = app
        .post("/v1/accounts/dave/withdrawals", "wd-1", r#"{"amount":500}"#)
        .await;
    assert_eq!(rejected.0, 422);
    app.post("/v1/accounts/dave/deposits", "dep-2", r#"{"amount":1000}"#)
        .await;
    assert_eq!(
        app.post("/v1/accounts/dave/withdrawals", "wd-1", r#"{"amount":500}"#)
            .await,
        rejected
    );

    // Concurrent repeats of one key: one effect, one answer.
    let tries = (0..20).map(|_| app.post("/v1/accounts/dave/deposits", "dep-3", r#"{"amount":7}"#));
    let answers = futures::future::join_all(tries).await;
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    let (_, shown) = app.get(&app.api, "/v1/accounts/dave").await;
    assert_eq!(shown["account"]["balance"], 1107);
}

/// 500 withdrawals at once on an account that covers 37 of them: exactly
/// 37 succeed, the rest are refused, and the balance stays within its limit.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn concurrent_withdrawals_never_overdraw(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    app.open("erin", 50).await;
    app.post("/v1/accounts/erin/deposits", "seed", r#"{"amount":3650}"#)
        .await;
    let tries = (0..500).map(|i| {
        app.post(
            "/v1/accounts/erin/withdrawals",
            format!("w{i}").leak(),
            r#"{"amount":100}"#,
        )
    });
    let answers = futures::future::join_all(tries).await;
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    let refused = answers
        .iter()
        .filter(|(s, b)| *s == 422 && b["code"] == "insufficient_funds")
        .count();
    assert_eq!(
        (ok, refused),
        (37, 463),
        "other answers: {:?}",
        answers.iter().find(|(s, _)| *s != 200 && *s != 422)
    );
    let (_, shown) = app.get(&app.api, "/v1/accounts/erin").await;
    assert_eq!(shown["account"]["balance"], -50);
    let withdrawals: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'funds_withdrawn'")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(withdrawals, 37);
}

/// One shard with several batches in flight: commands of many streams, sent
/// all at once, are each decided after the previous command of their own
/// stream, whichever batch carries them; none is lost or applied twice.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn batches_in_flight_keep_each_stream_in_order(pool: PgPool) {
    let config = CommandsConfig {
        writer_shards: 1,
        writer_batches_in_flight: 4,
        ..CommandsConfig::default()
    };
    let app = spawn_app_with(pool.clone(), config).await;
    let accounts = ["pa", "pb", "pc", "pd", "pe"];
    for account in accounts {
        app.open(account, 0).await;
    }
    // Each account gets 40 deposits of 1 and 60 withdrawals of 1 from a
    // balance of 0: which withdrawals pass depends on the order, but never
    // more than the deposits before them, and every deposit passes.
    let sends = accounts.iter().flat_map(|account| {
        (0..100).map(move |i| {
            let (route, body) = if i % 5 < 2 {
                ("deposits", r#"{"amount":1}"#)
            } else {
                ("withdrawals", r#"{"amount":1}"#)
            };
            (
                format!("/v1/accounts/{account}/{route}"),
                format!("{account}-{i}"),
                body,
            )
        })
    });
    let app = &app;
    let answers = futures::future::join_all(
        sends.map(|(path, key, body)| async move { app.post(&path, &key, body).await }),
    )
    .await;
    assert!(
        answers.iter().all(|(s, _)| *s == 200 || *s == 422),
        "other answers: {:?}",
        answers.iter().find(|(s, _)| *s != 200 && *s != 422)
    );
    for account in accounts {
        let (_, shown) = app.get(&app.api, &format!("/v1/accounts/{account}")).await;
        let balance = shown["account"]["balance"].as_i64().expect("balance");
        assert!(balance >= 0, "{account} went below its limit: {balance}");
        let versions: Vec<i64> = sqlx::query_scalar(
            "SELECT stream_version FROM events WHERE stream_id = $1 ORDER BY global_position",
        )
        .bind(format!("account-{account}"))
        .fetch_all(&pool)
        .await
        .expect("versions");
        let expected: Vec<i64> = (1..=versions.len() as i64).collect();
        assert_eq!(versions, expected, "{account}: versions in position order");
        let moved: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(CASE event_type WHEN 'funds_deposited' THEN 1 ELSE -1 END), 0)::int8
             FROM events WHERE stream_id = $1 AND event_type LIKE 'funds_%'",
        )
        .bind(format!("account-{account}"))
        .fetch_one(&pool)
        .await
        .expect("sum");
        assert_eq!(
            moved, balance,
            "{account}: the events add up to the balance"
        );
        assert_eq!(
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM events WHERE stream_id = $1 AND event_type = 'funds_deposited'"
            )
            .bind(format!("account-{account}"))
            .fetch_one(&pool)
            .await
            .expect("deposits"),
            40,
            "{account}: every deposit once"
        );
    }
}
