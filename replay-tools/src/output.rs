//! How a subcommand's report reaches standard output: one pretty JSON
//! document with `--json`, text for a person otherwise.

use serde::Serialize;

use crate::error::Error;

pub fn print<T: Serialize>(
    report: &T,
    json: bool,
    text: impl FnOnce(&T) -> String,
) -> Result<(), Error> {
    if json {
        let document = serde_json::to_string_pretty(report).map_err(|e| Error::Write(e.into()))?;
        println!("{document}");
    } else {
        print!("{}", text(report));
    }
    Ok(())
}
