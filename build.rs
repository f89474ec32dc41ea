// Puts the commit into `--version` when built from a git checkout, and turns the names the
// Python runtime shares with agentdeploy (templates/runtime/agentdeploy_runtime/names.json, which
// the runtime reads too) into Rust constants: one source for both languages.
fn main() {
    runtime_names();
    let version = env!("CARGO_PKG_VERSION");
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let full = match commit {
        Some(c) => format!("{version} ({c})"),
        None => version.to_string(),
    };
    println!("cargo:rustc-env=AGENTDEPLOY_VERSION={full}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}

fn runtime_names() {
    let path = "templates/runtime/agentdeploy_runtime/names.json";
    println!("cargo:rerun-if-changed={path}");
    let text = std::fs::read_to_string(path).expect("names.json is in the crate");
    let names: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).expect("names.json is a JSON object");
    let mut code = String::new();
    for (key, value) in &names {
        let constant = key.to_uppercase();
        match value {
            serde_json::Value::String(text) => {
                code.push_str(&format!("pub const {constant}: &str = {text:?};\n"));
            }
            serde_json::Value::Number(number) => {
                code.push_str(&format!("pub const {constant}: usize = {number};\n"));
            }
            other => panic!("names.json: `{key}` is {other}, not a string or a number"),
        }
    }
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("runtime_names.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");
}
