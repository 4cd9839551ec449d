//! Embeds every `data/<service>.json.gz` blob: writes `$OUT_DIR/blobs.rs`, a table of
//! `(service, bytes)` sorted by service name.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let data = manifest.join("data");
    println!("cargo:rerun-if-changed=data");
    let mut names: Vec<String> = fs::read_dir(&data)
        .expect("crates/models/data")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".json.gz").map(str::to_string))
        .filter(|n| n != "index")
        .collect();
    names.sort();
    let mut out = String::from("/// Every embedded service model, sorted by service name.\n");
    out.push_str("pub(crate) static BLOBS: &[(&str, &[u8])] = &[\n");
    for name in &names {
        let path = data.join(format!("{name}.json.gz"));
        let _ = writeln!(
            out,
            "    ({name:?}, include_bytes!({:?})),",
            path.display().to_string()
        );
    }
    out.push_str("];\n");
    let index = data.join("index.json.gz");
    let _ = writeln!(
        out,
        "/// The IAM prefix index.\npub(crate) static INDEX: &[u8] = include_bytes!({:?});",
        index.display().to_string()
    );
    let dest = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("blobs.rs");
    fs::write(dest, out).expect("write blobs.rs");
}
