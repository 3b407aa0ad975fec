//! Rebuild when a migration changes: the migrations are embedded into the binary.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
