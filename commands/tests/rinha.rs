//! The Rinha de Backend 2024/Q1 contract, exactly, over HTTP.

mod common;

use common::spawn_app;
use sqlx::PgPool;

async fn transact(app: &common::App, client: &str, body: &str) -> (u16, String) {
    let response = app
        .http
        .post(format!("{}/clientes/{client}/transacoes", app.rinha))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("send");
    (
        response.status().as_u16(),
        response.text().await.expect("text"),
    )
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn transactions_and_statement(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (status, body) = transact(
        &app,
        "1",
        r#"{"valor": 1000, "tipo": "c", "descricao": "descricao"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body, r#"{"limite":100000,"saldo":1000}"#,
        "integers, never floats"
    );
    let (status, body) = transact(
        &app,
        "1",
        r#"{"valor": 101000, "tipo": "d", "descricao": "d"}"#,
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"limite":100000,"saldo":-100000}"#)
    );
    let (status, _) = transact(&app, "1", r#"{"valor": 1, "tipo": "d", "descricao": "d"}"#).await;
    assert_eq!(status, 422, "past the limit");

    let (status, statement) = app.get(&app.rinha, "/clientes/1/extrato").await;
    assert_eq!(status, 200);
    assert_eq!(statement["saldo"]["total"], -100000);
    assert_eq!(statement["saldo"]["limite"], 100000);
    assert!(chrono::DateTime::parse_from_rfc3339(
        statement["saldo"]["data_extrato"].as_str().expect("date")
    )
    .is_ok());
    let last = statement["ultimas_transacoes"].as_array().expect("array");
    assert_eq!(last.len(), 2);
    assert_eq!(last[0]["tipo"], "d", "newest first");
    assert_eq!(last[0]["valor"], 101000);
    assert_eq!(last[1]["descricao"], "descricao");
    assert!(
        chrono::DateTime::parse_from_rfc3339(last[0]["realizada_em"].as_str().expect("date"))
            .is_ok()
    );
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn the_statement_keeps_the_last_ten(pool: PgPool) {
    let app = spawn_app(pool).await;
    for i in 1..=12 {
        let (status, _) = transact(
            &app,
            "2",
            &format!(r#"{{"valor": {i}, "tipo": "c", "descricao": "n{i}"}}"#),
        )
        .await;
        assert_eq!(status, 200);
    }
    let (_, statement) = app.get(&app.rinha, "/clientes/2/extrato").await;
    let last = statement["ultimas_transacoes"].as_array().expect("array");
    assert_eq!(last.len(), 10);
    assert_eq!(last[0]["valor"], 12);
    assert_eq!(last[9]["valor"], 3);
    assert_eq!(statement["saldo"]["total"], 78);
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn unknown_clients_are_404_and_bad_bodies_422(pool: PgPool) {
    let app = spawn_app(pool).await;
    for client in ["6", "0", "-1", "abc", "999999999999"] {
        let (status, _) = transact(
            &app,
            client,
            r#"{"valor": 1, "tipo": "c", "descricao": "x"}"#,
        )
        .await;
        assert_eq!(status, 404, "transacoes of {client}");
        let response = app
            .http
            .get(format!("{}/clientes/{client}/extrato", app.rinha))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status().as_u16(), 404, "extrato of {client}");
    }
    let invalid = [
        r#"{"valor": 1.2, "tipo": "d", "descricao": "devolve"}"#,
        r#"{"valor": -1, "tipo": "c", "descricao": "x"}"#,
        r#"{"valor": 0, "tipo": "c", "descricao": "x"}"#,
        r#"{"valor": "1", "tipo": "c", "descricao": "x"}"#,
        r#"{"valor": 1, "tipo": "x", "descricao": "devolve"}"#,
        r#"{"valor": 1, "tipo": "c", "descricao": "123456789 e mais um pouco"}"#,
        r#"{"valor": 1, "tipo": "c", "descricao": ""}"#,
        r#"{"valor": 1, "tipo": "c", "descricao": null}"#,
        r#"{"valor": 1, "tipo": "c"}"#,
        r#"{"tipo": "c", "descricao": "x"}"#,
        r#"not json"#,
    ];
    for body in invalid {
        let (status, _) = transact(&app, "3", body).await;
        assert_eq!(status, 422, "{body}");
    }
    let (_, statement) = app.get(&app.rinha, "/clientes/3/extrato").await;
    assert_eq!(statement["saldo"]["total"], 0, "nothing changed");
    assert_eq!(statement["ultimas_transacoes"], serde_json::json!([]));
}
