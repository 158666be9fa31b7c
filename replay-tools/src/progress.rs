//! Progress bars for long work, on standard error, and only when it is a
//! terminal: a redirected stderr (a log file, CI) gets no control codes.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

const TEMPLATE: &str = "{msg:>10} [{elapsed_precise}] {wide_bar} {percent:>3}% eta {eta}";

/// With a rate the caller computes (events, where the bar counts
/// positions) in the message.
const RATE_TEMPLATE: &str =
    "{prefix:>10} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg} eta {eta}";

/// A bar of `len` units (positions or bytes), labelled `what`.
pub fn bar(len: u64, what: &'static str) -> ProgressBar {
    styled(len, TEMPLATE).with_message(what)
}

/// A bar of `len` positions, labelled `what`, whose message the caller
/// keeps at the current rate (`set_message`).
pub fn rate_bar(len: u64, what: &'static str) -> ProgressBar {
    styled(len, RATE_TEMPLATE).with_prefix(what)
}

fn styled(len: u64, template: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    // The templates are constants, so they parse; the default style would
    // do if one ever did not.
    let style =
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::new(len).with_style(style)
}
