//! Build: from a rendered project to the function's artifact (reference §6): dependencies pinned
//! for Lambda's platform and built, bytecode compiled, the size checked, the zip packaged, the
//! cold start estimated. Local work only (pip, uv, sam build); nothing here calls AWS.

pub mod artifact;
pub mod bytecode;
pub mod cold_start;
pub mod key_lock;
pub mod package;
pub mod pipeline;
pub mod resolve;
pub mod sam;

/// The first `bytes` bytes of a digest in hex: the short keys of the record and the caches.
pub fn hex_prefix(digest: &[u8], bytes: usize) -> String {
    digest
        .iter()
        .take(bytes)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The SHA-256 of a file's content, hex, read a MiB at a time.
pub fn file_sha256(path: &std::path::Path) -> std::io::Result<String> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut file = std::fs::File::open(path)?;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = std::io::Read::read(&mut file, &mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    let digest = hasher.finalize();
    Ok(hex_prefix(&digest, digest.len()))
}
