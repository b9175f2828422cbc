//! The zmqbus rlib carries its `#[napi]` glue, whose `napi_*` symbols only a Node process provides. The fuzz
//! targets never call it, so the linker may leave those symbols unresolved.
fn main() {
  println!("cargo:rustc-link-arg=-Wl,--unresolved-symbols=ignore-all");
}
