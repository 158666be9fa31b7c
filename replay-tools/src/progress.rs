//! Progress bars for long work, on standard error, and only when it is a
//! terminal: a redirected stderr (a log file, CI) gets no control codes.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

const TEMPLATE: &str = "{msg:>10} [{elapsed_precise}] {wide_bar} {percent:>3}% eta {eta}";

/// A bar of `len` units (positions or bytes), labelled `what`.
pub fn bar(len: u64, what: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    // The template is a constant, so it parses; the default style would do
    // if it ever did not.
    let style =
        ProgressStyle::with_template(TEMPLATE).unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::new(len).with_style(style).with_message(what)
}
