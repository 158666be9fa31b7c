//! How `betledger report` prints a report: an aligned table, CSV or JSON.
//! Cells are ClickHouse's text (integers exact), never reformatted.

use projections::clickhouse::reports::ReportTable;

pub fn table(report: &ReportTable) -> String {
    let header: Vec<&str> = report.columns.iter().map(|c| c.name.as_str()).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &report.rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let numeric: Vec<bool> = report
        .columns
        .iter()
        .map(|c| c.type_name.starts_with("Int") || c.type_name.starts_with("UInt"))
        .collect();
    let line = |cells: &[&str]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let width = widths.get(i).copied().unwrap_or(0);
            if i > 0 {
                out.push_str("  ");
            }
            if numeric.get(i).copied().unwrap_or(false) {
                out.push_str(&format!("{cell:>width$}"));
            } else {
                out.push_str(&format!("{cell:<width$}"));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(&header);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&line(&rule.iter().map(String::as_str).collect::<Vec<_>>()));
    for row in &report.rows {
        out.push_str(&line(&row.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    out.push_str(&format!("({} rows)\n", report.rows.len()));
    out
}

pub fn csv(report: &ReportTable) -> String {
    let field = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = String::new();
    let header: Vec<String> = report.columns.iter().map(|c| field(&c.name)).collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for row in &report.rows {
        let cells: Vec<String> = row.iter().map(|c| field(c)).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

pub fn json(report: &ReportTable) -> String {
    let columns: Vec<serde_json::Value> = report
        .columns
        .iter()
        .map(|c| serde_json::json!({ "name": c.name, "type": c.type_name }))
        .collect();
    let value = serde_json::json!({
        "report": report.report.as_str(),
        "columns": columns,
        "rows": report.rows,
        "truncated": report.truncated,
    });
    format!("{value}\n")
}
