//! Every subcommand explains itself.

#[test]
fn every_subcommand_has_help() {
    for subcommand in ["verify", "export", "import", "as-of", "tail", "stats"] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_replay-tools"))
            .args([subcommand, "--help"])
            .output()
            .expect("run replay-tools");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{subcommand}: {help}");
        assert!(help.contains("Usage: replay-tools"), "{subcommand}: {help}");
    }
}
