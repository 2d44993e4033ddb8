//! Node addons resolve the Node-API symbols from the `node` process at load time.
fn main() {
    napi_build::setup();
}
