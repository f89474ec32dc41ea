//! Digests as agentdeploy writes and compares them: hex (the one encoder), a file's SHA-256, and
//! HMAC-SHA256 (RFC 2104) under a key with a comparison that does not leak where two differ.

/// `bytes` in lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    hex_prefix(bytes, bytes.len())
}

/// The first `count` bytes of a digest in hex: the short keys of the record and the caches.
pub fn hex_prefix(bytes: &[u8], count: usize) -> String {
    bytes
        .iter()
        .take(count)
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
    Ok(hex(&hasher.finalize()))
}

/// HMAC-SHA256 of `value` under `key`: what stands for a secret in stored hashes, and what
/// proves an object in a shared place was written by someone holding the key.
pub fn keyed(key: &[u8], value: &[u8]) -> [u8; 32] {
    use hmac::{KeyInit, Mac};
    // HMAC takes a key of any length; new_from_slice cannot fail for it.
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(value);
    mac.finalize().into_bytes().into()
}

/// Whether two digests are equal, in time that does not depend on where they differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_hmac_are_the_standard_ones() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(hex_prefix(&[0, 0xab, 0x10], 2), "00ab");
        // RFC 4231, test case 2.
        assert_eq!(
            hex(&keyed(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }
}
