// `sqlx::migrate!` embeds the migrations at compile time; without this, a new
// migration file would not rebuild the crate and tests would run old SQL.
fn main() {
    println!("cargo:rerun-if-changed=../schemas/postgres");
}
